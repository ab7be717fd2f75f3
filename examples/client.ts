// A Nest ClientProxy over Hyps, talking to examples/microservice.ts.
//   npm run build && npx tsc -p examples && node examples/dist/client.js
import 'reflect-metadata';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { ClientHyps, NoRespondersError, RequestTimeoutError } from '@hyps/transport';

const HYPS_URL = process.env.HYPS_URL ?? 'hyps://127.0.0.1:8787';
const client = new ClientHyps({ url: HYPS_URL, requestTimeoutMs: 2000 });

try {
  await client.connect();

  // emit() completes once the broker has routed the event.
  await lastValueFrom(client.emit('orders.created', { id: 1 }), { defaultValue: undefined });
  await lastValueFrom(client.emit('orders.shipped.eu', { id: 1 }), { defaultValue: undefined });

  const total = await firstValueFrom(
    client.send<number>('orders.total', [
      { price: 5, qty: 2 },
      { price: 1, qty: 3 },
    ]),
  );
  console.log('total:', total);

  const progress = await lastValueFrom(client.send<string>('orders.progress', 3).pipe(toArray()));
  console.log('progress:', progress);

  await firstValueFrom(client.send('orders.total', 'not-an-array')).catch((err: unknown) =>
    console.log('rpc error:', err),
  );

  await firstValueFrom(client.send('nobody.listens', {})).catch((err: unknown) => {
    if (err instanceof NoRespondersError) console.log('no responders, as expected');
    else if (err instanceof RequestTimeoutError) console.log('timed out');
    else throw err;
  });
} finally {
  await client.close();
}
