// HypsClient over TLS: `hypss://` urls and the `tls` option, against a broker with a TLS listener.
import { Broker, HypsClient, type HypsMessage } from '../../libs/hyps-transport/src/index.js';
import { firstValueFrom } from 'rxjs';
import { hasOpenssl, makeTestPki, type TestPki } from '../hardening/helpers/certs.js';

const describeTls = hasOpenssl() ? describe : describe.skip;

describeTls('HypsClient over TLS', () => {
  let pki: TestPki;
  let broker: Broker | undefined;
  const clients: HypsClient[] = [];

  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => pki?.remove());
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await broker?.close();
    broker = undefined;
  });

  async function startBroker(mutual = false): Promise<number> {
    broker = new Broker({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: pki.serverCert, key: pki.serverKey, ...(mutual ? { ca: pki.caCert } : {}) },
    });
    return (await broker.listen()).port;
  }

  function client(options: ConstructorParameters<typeof HypsClient>[0]): HypsClient {
    const created = new HypsClient({ reconnect: false, connectTimeoutMs: 2_000, ...options });
    clients.push(created);
    return created;
  }

  it('publishes and receives over hypss:// with the CA trusted', async () => {
    const port = await startBroker();
    const hyps = client({ url: `hypss://127.0.0.1:${port}`, tls: { ca: pki.caCert } });
    await hyps.connect();
    const messages = hyps.subscribe('secure.>');
    const first = firstValueFrom(messages);
    await messages.ready;
    await expect(hyps.publish('secure.news', 'over tls')).resolves.toEqual({ receivers: 1 });
    const message: HypsMessage = await first;
    expect(message.channel).toBe('secure.news');
    expect(message.text()).toBe('over tls');
  });

  it('refuses a broker certificate it does not trust', async () => {
    const port = await startBroker();
    const hyps = client({ url: `hypss://127.0.0.1:${port}` });
    await expect(hyps.connect()).rejects.toThrow();
    expect(broker!.stats().published).toBe(0);
  });

  it('presents a client certificate when the broker requires one', async () => {
    const port = await startBroker(true);
    const withCert = client({
      url: `hyps://127.0.0.1:${port}`,
      tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
    });
    await withCert.connect();
    await expect(withCert.publish('mutual.ok', 'x')).resolves.toEqual({ receivers: 0 });

    const withoutCert = client({ url: `hypss://127.0.0.1:${port}`, tls: { ca: pki.caCert } });
    await expect(withoutCert.connect()).rejects.toThrow();
  });

  it('rejects tls: false with a hypss:// url', () => {
    expect(() => new HypsClient({ url: 'hypss://127.0.0.1:1', tls: false })).toThrow(/needs TLS/);
  });
});
