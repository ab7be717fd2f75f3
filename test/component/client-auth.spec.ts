import {
  AuthFailedError,
  Broker,
  PermissionDeniedError,
  TooManyConnectionsError,
  type BrokerAuth,
} from '@hyps/transport';
import { HypsClient, type HypsClientOptions } from '../../libs/hyps-transport/src/client/index.js';

const brokers: Broker[] = [];
const clients: HypsClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

async function startBroker(
  auth: BrokerAuth,
  maxConnections?: number,
): Promise<{ broker: Broker; url: string }> {
  const broker = new Broker({
    host: '127.0.0.1',
    port: 0,
    auth,
    ...(maxConnections ? { maxConnections } : {}),
  });
  const { port } = await broker.listen();
  brokers.push(broker);
  return { broker, url: `hyps://127.0.0.1:${port}` };
}

function newClient(options: HypsClientOptions): HypsClient {
  // Fast retries: an auth failure must still not loop.
  const client = new HypsClient({ reconnectDelayMs: 5, maxReconnectDelayMs: 10, ...options });
  clients.push(client);
  return client;
}

const users = [
  { user: 'api', secret: 'api-secret', publish: ['chat.>'], subscribe: ['chat.>'] },
  { user: 'admin', secret: 'admin-secret' },
];

describe('HypsClient authentication', () => {
  it('connects with the right token', async () => {
    const { url } = await startBroker({ mode: 'token', token: 's3cret' });
    const client = newClient({ url, token: 's3cret', name: 'token-client' });
    await client.connect();
    expect(client.info?.auth).toBe('token');
    await expect(client.publish('a', 'b')).resolves.toEqual({ receivers: 0 });
  });

  it('rejects connect() with AuthFailedError on a wrong token, without a retry loop', async () => {
    const { broker, url } = await startBroker({ mode: 'token', token: 's3cret' });
    const client = newClient({ url, token: 'wrong' });
    const errors: Error[] = [];
    const statuses: string[] = [];
    client.on('error', (error) => errors.push(error));
    client.on('status', (status) => statuses.push(status));
    await expect(client.connect()).rejects.toBeInstanceOf(AuthFailedError);
    expect(client.status).toBe('closed');
    expect(errors[0]).toBeInstanceOf(AuthFailedError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // One HELLO refused (ERR 4) and no further attempt.
    expect(broker.stats().errors[4]).toBe(1);
    expect(statuses).toEqual(['connecting', 'closed']);
    expect(errors).toHaveLength(1);
    // After giving up, publishes fail fast instead of hanging.
    await expect(client.publish('a', 'b')).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('fails without sending a HELLO when the broker wants a token and none is set', async () => {
    const { url } = await startBroker({ mode: 'token', token: 's3cret' });
    const client = newClient({ url });
    await expect(client.connect()).rejects.toThrow(/requires a token/);
  });

  it('signs the nonce for hmac auth; the broker enforces the user permissions', async () => {
    const { url } = await startBroker({ mode: 'hmac', users });
    const client = newClient({ url, user: 'api', secret: 'api-secret' });
    await client.connect();
    expect(client.info?.auth).toBe('hmac');

    const allowed = client.subscribe('chat.room.*');
    const denied = client.subscribe(['chat.room.1', 'secret.>']);
    const deniedErrors: unknown[] = [];
    allowed.subscribe();
    denied.subscribe({ error: (error: unknown) => deniedErrors.push(error) });
    await allowed.ready;
    await expect(denied.ready).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(deniedErrors).toHaveLength(1);
    expect(deniedErrors[0]).toBeInstanceOf(PermissionDeniedError);

    await expect(client.publish('chat.room.1', 'hi')).resolves.toEqual({ receivers: 1 });
    await expect(client.publish('secret.x', 'no')).rejects.toBeInstanceOf(PermissionDeniedError);
    // Non-fatal: the connection carries on.
    await expect(client.publish('chat.room.2', 'still')).resolves.toEqual({ receivers: 1 });
    expect(client.status).toBe('connected');
  });

  it('rejects a wrong hmac secret with AuthFailedError', async () => {
    const { url } = await startBroker({ mode: 'hmac', users });
    const client = newClient({ url, user: 'api', secret: 'not-the-secret' });
    await expect(client.connect()).rejects.toBeInstanceOf(AuthFailedError);
    expect(client.status).toBe('closed');
  });

  it('rejects connect() with TooManyConnectionsError when the broker is full', async () => {
    const { url } = await startBroker({ mode: 'none' }, 1);
    await newClient({ url }).connect();
    const refused = newClient({ url, reconnect: false });
    await expect(refused.connect()).rejects.toBeInstanceOf(TooManyConnectionsError);
    expect(refused.status).toBe('closed');
  });
});
