// HypsClient on its own (no Nest): subscriptions as Observables, the pull API, publishes with a
// promise and with a callback, and a drain at the end.
//   npm run build && npx tsc -p examples && node examples/dist/hyps-client.js
// Needs a broker: `npm start` (or HYPS_URL=hyps://host:port).
import { firstValueFrom, take, toArray } from 'rxjs';
import { HypsClient, IDLE, InvalidChannelError } from '@hyps/transport';

const HYPS_URL = process.env.HYPS_URL ?? 'hyps://127.0.0.1:8787';
const hyps = new HypsClient({ url: HYPS_URL, name: 'example-client' });

try {
  await hyps.connect();

  // A cold Observable: SUB goes out on the first observer; `ready` once the broker has it.
  const ticks$ = hyps.subscribe('example.ticks.*');
  const firstThree = firstValueFrom(ticks$.pipe(take(3), toArray()));
  await ticks$.ready;

  // Promise form: resolves with the number of deliveries the broker made.
  const { receivers } = await hyps.publish('example.ticks.eu', '1');
  console.log('receivers:', receivers);

  // Callback form, for publishers that send a lot: no promise per message.
  let acked = 0;
  for (const price of ['2', '3']) {
    hyps.publish('example.ticks.us', price, (error) => {
      if (error) console.error('publish failed:', error);
      else acked++;
    });
  }
  const prices = await firstThree;
  console.log('ticks:', prices.map((message) => `${message.channel}=${message.text()}`).join(' '));

  // Pull API: a bounded buffer and an idle marker instead of an Observable.
  const pulled = hyps.iterate('example.pull', { idleTimeoutMs: 200 });
  await pulled.ready;
  await hyps.publish('example.pull', JSON.stringify({ n: 1 }));
  for await (const item of pulled) {
    if (item === IDLE) break; // nothing more for 200 ms
    console.log('pulled:', item.json());
  }

  // Bad input is a typed error, not a broken connection.
  await hyps.publish('example..bad', 'x').catch((error: unknown) => {
    console.log('refused:', error instanceof InvalidChannelError, (error as Error).message);
  });
  console.log('callback publishes acknowledged:', acked);
} finally {
  await hyps.drain(); // waits for pending acknowledgements, then closes
}
