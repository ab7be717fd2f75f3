import {
  Broker,
  type BrokerOptions,
  type HelloPayload,
} from '../../../libs/hyps-transport/src/index.js';
import { RawClient } from './raw-client.js';

/** An in-process broker on 127.0.0.1, port 0, plus the raw clients a test opened against it. */
export class RunningBroker {
  private readonly clients: RawClient[] = [];

  constructor(
    readonly broker: Broker,
    readonly port: number,
  ) {}

  /** A raw TCP connection; nothing sent, nothing awaited but the TCP connect. */
  async connect(): Promise<RawClient> {
    const client = await RawClient.connect(this.port);
    this.clients.push(client);
    return client;
  }

  /** A connection past INFO and an acknowledged HELLO. */
  async client(hello: HelloPayload = { protocol: 1 }): Promise<RawClient> {
    const client = await this.connect();
    await client.handshake(hello);
    return client;
  }

  /** Destroys every client socket, then the broker. Safe to call twice. */
  async stop(): Promise<void> {
    for (const client of this.clients) client.destroy();
    this.clients.length = 0;
    await this.broker.close();
  }
}

/**
 * Registers an afterEach that stops every broker (and its clients) started during the test.
 * Call once at the top of a describe block.
 */
export function useBrokers(): { start(options?: Partial<BrokerOptions>): Promise<RunningBroker> } {
  const running: RunningBroker[] = [];
  afterEach(async () => {
    const stopping = running.splice(0);
    await Promise.all(stopping.map((b) => b.stop()));
  });
  return {
    async start(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
      const broker = new Broker({ host: '127.0.0.1', port: 0, auth: { mode: 'none' }, ...options });
      const { port } = await broker.listen();
      const started = new RunningBroker(broker, port);
      running.push(started);
      return started;
    },
  };
}
