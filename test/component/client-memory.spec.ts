// What 5,000 subscriptions on one connection keep alive: one app server holds thousands (one
// channel per user), so the bytes each costs are a product figure (bench: the memory table).
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HypsClient } from '@hyps/transport';
import { useBrokers } from './helpers/broker-fixture.js';

const brokers = useBrokers();
const COUNT = 5_000;

function liveHeapBytes(collect: () => void): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

describe('memory per subscription', () => {
  it('keeps under 1,500 bytes of JS heap per exact-channel subscription, client and broker together', async () => {
    v8.setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const running = await brokers.start();
    const client = new HypsClient({ url: `hyps://127.0.0.1:${running.port}`, reconnect: false });
    try {
      await client.connect();
      const channels = Array.from({ length: COUNT }, (_, i) => `memory.user.${i}`);
      const handler = (): void => undefined;
      const before = liveHeapBytes(collect);
      // What an app keeps: the Subscription, to unsubscribe later (not the Observable).
      const readies: Promise<void>[] = [];
      const subscriptions = channels.map((channel) => {
        const source = client.subscribe(channel);
        readies.push(source.ready);
        return source.subscribe(handler);
      });
      await Promise.all(readies);
      readies.length = 0;
      const perSubscription = (liveHeapBytes(collect) - before) / COUNT;
      // Measured about 1,060 bytes; 2,650 while the client kept two Sets, two closures and
      // arrays grown by push per subscription, and the broker a Set and three token strings.
      expect(perSubscription).toBeLessThan(1_500);
      for (const subscription of subscriptions) subscription.unsubscribe();
    } finally {
      await client.close();
    }
  });
});
