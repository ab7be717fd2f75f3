// TLS on the broker's listener (issue 6, item 1): certificates are made at test time with openssl.
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import {
  Broker,
  HypsClient,
  encodeHello,
  encodeRecord,
  encodeSub,
  FrameDecoder,
  type ControlFrame,
} from '../../libs/hyps-transport/src/index.js';
import { sleep, withTimeout } from './helpers/bounded.js';
import { Canary, expectHealthyCanary } from './helpers/canary.js';
import { hasOpenssl, makeTestPki, type TestPki } from './helpers/certs.js';

/** What a raw TLS connection received: decoded frames, or why it ended. */
interface Received {
  frames: (ControlFrame | { type: 'record'; channel: string; message: string })[];
  secureConnected: boolean;
  error: Error | undefined;
  closed: boolean;
}

/** A raw TLS socket that decodes everything the broker sends. */
function tlsRaw(port: number, options: ConnectionOptions): { socket: TLSSocket; got: Received } {
  const got: Received = { frames: [], secureConnected: false, error: undefined, closed: false };
  const decoder = new FrameDecoder(
    {
      onRecord: (buf, start, channelEnd, end) =>
        got.frames.push({
          type: 'record',
          channel: buf.toString('utf8', start + 4, channelEnd),
          message: buf.toString('utf8', channelEnd + 1, end - 1),
        }),
      onControl: (frame) => got.frames.push(frame),
    },
    { from: 'broker' },
  );
  const socket = tlsConnect({ host: '127.0.0.1', port, ...options });
  socket.on('secureConnect', () => (got.secureConnected = true));
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  socket.on('error', (error) => (got.error = error));
  socket.on('close', () => (got.closed = true));
  return { socket, got };
}

async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const answersOf = (got: Received): (number | string)[] =>
  got.frames.flatMap((f): (number | string)[] =>
    f.type === 'ok' ? f.results : f.type === 'err' ? [`ERR ${f.code}`] : [],
  );

const describeTls = hasOpenssl() ? describe : describe.skip;

describeTls('broker over TLS', () => {
  let pki: TestPki;
  const brokers: Broker[] = [];
  const sockets: { destroy(): void }[] = [];

  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => pki?.remove());
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });

  async function start(tls: { cert: string; key: string; ca?: string }): Promise<number> {
    const broker = new Broker({ host: '127.0.0.1', port: 0, tls });
    brokers.push(broker);
    return (await broker.listen()).port;
  }

  it('serves INFO, publish and subscribe to a client that trusts the CA', async () => {
    const port = await start({ cert: pki.serverCert, key: pki.serverKey });
    const canary = await Canary.start({ port, tls: { ca: pki.caCert } });
    const { socket, got } = tlsRaw(port, { ca: pki.caCert });
    sockets.push(socket);
    await until(() => got.frames.length > 0, 'INFO');
    expect(got.frames[0]!.type).toBe('info');
    // The certificate was checked for real: the server name is the IP in its SAN.
    expect(socket.authorized).toBe(true);
    socket.write(
      Buffer.concat([
        encodeHello({ protocol: 1 }),
        encodeSub('secure.*'),
        encodeRecord('secure.a', 'over tls'),
      ]),
    );
    await until(() => answersOf(got).length >= 3, 'three answers');
    expect(answersOf(got)).toEqual([0, 0, 1]);
    await until(() => got.frames.some((f) => f.type === 'record'), 'the delivery');
    expect(got.frames.find((f) => f.type === 'record')).toEqual({
      type: 'record',
      channel: 'secure.a',
      message: 'over tls',
    });
    await canary.proveAlive();
    expectHealthyCanary(await canary.stop(), 3);
  });

  it('refuses a client that does not trust the server certificate', async () => {
    const port = await start({ cert: pki.serverCert, key: pki.serverKey });
    const { socket, got } = tlsRaw(port, {}); // system CAs only
    sockets.push(socket);
    await until(() => got.closed, 'the connection to fail');
    expect(got.secureConnected).toBe(false);
    expect(got.error?.message).toMatch(/self[- ]signed|unable to (get|verify)/i);
    expect(got.frames).toEqual([]);
  });

  it('speaks no plain TCP on the TLS port: a plain client gets no INFO', async () => {
    const port = await start({ cert: pki.serverCert, key: pki.serverKey });
    const canary = await Canary.start({ port, tls: { ca: pki.caCert } });
    const plain = netConnect({ host: '127.0.0.1', port });
    sockets.push(plain);
    const received: Buffer[] = [];
    plain.on('data', (chunk: Buffer) => received.push(chunk));
    plain.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => plain.once('close', () => resolve()));
    plain.write(encodeHello({ protocol: 1 }));
    // The TLS server reads the HELLO as a broken ClientHello and drops the connection.
    await withTimeout(closed, 5_000, 'the broker to drop the plain TCP connection');
    const bytes = Buffer.concat(received);
    // Nothing Hyps was said: at most a TLS alert record (content type 0x15), never INFO.
    expect(bytes.length === 0 || bytes[0] === 0x15).toBe(true);
    await canary.proveAlive();
    expectHealthyCanary(await canary.stop(), 3);
  });

  it('closes a connection that never starts its TLS handshake within the HELLO timeout', async () => {
    // Before the handshake the broker has no connection object, so neither the HELLO timeout
    // nor maxConnections applies unless the TLS server itself bounds the handshake: Node's
    // default handshakeTimeout is 120 s, long enough for a slowloris on the TLS port.
    const broker = new Broker({
      host: '127.0.0.1',
      port: 0,
      helloTimeoutMs: 500,
      tls: { cert: pki.serverCert, key: pki.serverKey },
    });
    brokers.push(broker);
    const { port } = await broker.listen();
    const idle = Array.from({ length: 20 }, () => netConnect({ host: '127.0.0.1', port }));
    sockets.push(...idle);
    const closed = idle.map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.on('error', () => undefined);
          socket.once('close', () => resolve());
        }),
    );
    await withTimeout(
      Promise.all(closed),
      5_000,
      'the broker to close TCP connections that never sent a ClientHello (helloTimeoutMs 500)',
    );
  });

  describe('HypsClient over TLS', () => {
    const clients: HypsClient[] = [];
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    const open = (options: ConstructorParameters<typeof HypsClient>[0]): HypsClient => {
      const client = new HypsClient({ reconnect: false, connectTimeoutMs: 3_000, ...options });
      clients.push(client);
      return client;
    };

    async function roundTrip(client: HypsClient): Promise<string> {
      await client.connect();
      const got: string[] = [];
      const messages = client.subscribe('secure.>');
      messages.subscribe((m) => got.push(`${m.channel} ${m.text()}`));
      await messages.ready;
      expect(await client.publish('secure.hypss', 'over tls')).toEqual({ receivers: 1 });
      await until(() => got.length > 0, 'the delivery');
      return got[0]!;
    }

    it('publishes and subscribes with a hypss:// url and the CA', async () => {
      const port = await start({ cert: pki.serverCert, key: pki.serverKey });
      const client = open({ url: `hypss://127.0.0.1:${port}`, tls: { ca: pki.caCert } });
      expect(await roundTrip(client)).toBe('secure.hypss over tls');
    });

    it('presents its certificate to a broker that requires one', async () => {
      const port = await start({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert });
      const tls = { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
      const client = open({ url: `hypss://127.0.0.1:${port}`, tls });
      expect(await roundTrip(client)).toBe('secure.hypss over tls');
    });

    it('fails to connect, without hanging, when it does not trust the broker', async () => {
      const port = await start({ cert: pki.serverCert, key: pki.serverKey });
      const client = open({ url: `hypss://127.0.0.1:${port}` }); // system CAs only
      await expect(withTimeout(client.connect(), 10_000, 'connect() to settle')).rejects.toThrow(
        /certificate|self[- ]signed|issuer/i,
      );
    });
  });

  describe('with a client CA (mutual TLS)', () => {
    it('rejects a client without a certificate', async () => {
      const port = await start({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert });
      const { socket, got } = tlsRaw(port, { ca: pki.caCert });
      sockets.push(socket);
      socket.write(encodeHello({ protocol: 1 }));
      await until(() => got.closed, 'the connection to be refused');
      expect(got.frames.filter((f) => f.type === 'info')).toEqual([]);
      expect(got.frames.filter((f) => f.type === 'ok')).toEqual([]);
    });

    it('rejects a client whose certificate another CA signed', async () => {
      const port = await start({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert });
      const { socket, got } = tlsRaw(port, {
        ca: pki.caCert,
        cert: pki.strangerCert,
        key: pki.strangerKey,
      });
      sockets.push(socket);
      socket.write(encodeHello({ protocol: 1 }));
      await until(() => got.closed, 'the connection to be refused');
      expect(got.frames.filter((f) => f.type === 'ok')).toEqual([]);
    });

    it('accepts a client with a certificate the CA signed', async () => {
      const port = await start({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert });
      const client = { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
      const canary = await Canary.start({ port, tls: client });
      const { socket, got } = tlsRaw(port, client);
      sockets.push(socket);
      await until(() => got.frames.length > 0, 'INFO');
      socket.write(Buffer.concat([encodeHello({ protocol: 1 }), encodeSub('m.>')]));
      socket.write(encodeRecord('m.tls', 'mutual'));
      await until(() => got.frames.some((f) => f.type === 'record'), 'the delivery');
      expect(answersOf(got)).toEqual([0, 0, 1]);
      await canary.proveAlive();
      expectHealthyCanary(await canary.stop(), 3);
    });
  });
});
