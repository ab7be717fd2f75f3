// What 5,000 subscriptions on one connection keep alive: one app server holds thousands (one
// channel per user), so the bytes each costs are a product figure (bench: the memory table).
// Measured in a node process of its own, with the built package: a jest worker's heap also
// holds what earlier test files left running.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers/spawn-broker.js';

const run = promisify(execFile);
const COUNT = 5_000;
const RUN_TIMEOUT_MS = 30_000;

/** Broker and client in one process; prints the live heap per subscription as JSON. */
const MEASURE = `
import { Broker, HypsClient } from '@hyps/transport';
const liveHeap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
const broker = new Broker({ host: '127.0.0.1', port: 0, auth: { mode: 'none' } });
const { port } = await broker.listen();
const client = new HypsClient({ url: 'hyps://127.0.0.1:' + port, reconnect: false });
try {
  await client.connect();
  const channels = Array.from({ length: ${COUNT} }, (_, i) => 'memory.user.' + i);
  const handler = () => undefined;
  const before = liveHeap();
  // What an app keeps: the Subscription, to unsubscribe later (not the Observable).
  const readies = [];
  const subscriptions = channels.map((channel) => {
    const source = client.subscribe(channel);
    readies.push(source.ready);
    return source.subscribe(handler);
  });
  await Promise.all(readies);
  readies.length = 0;
  const perSubscription = (liveHeap() - before) / ${COUNT};
  for (const subscription of subscriptions) subscription.unsubscribe();
  console.log(JSON.stringify({ perSubscription }));
} finally {
  await client.close();
  await broker.close();
}
`;

describe('memory per subscription', () => {
  it('keeps under 1,500 bytes of JS heap per exact-channel subscription, client and broker together', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', MEASURE],
      { cwd: REPO_ROOT, timeout: RUN_TIMEOUT_MS },
    );
    const { perSubscription } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      perSubscription: number;
    };
    // Measured about 970 bytes; 2,560 while the client kept two Sets, two closures and
    // arrays grown by push per subscription, and the broker a Set and three token strings.
    expect(perSubscription).toBeGreaterThan(0);
    expect(perSubscription).toBeLessThan(1_500);
  });
});
