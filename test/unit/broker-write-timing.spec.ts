// When the broker writes to a connection: right after each of the first two chunks it reads in a
// poll phase, what that chunk caused (deliveries first, the reader's answers last); the rest at
// the end of the phase. Sockets are fakes that log every write, so the order of
// writes across connections can be seen; the broker, its connections and routing are real.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Broker } from '../../libs/hyps-transport/src/broker/broker.js';
import {
  decodeFrames,
  type DecodedFrame,
} from '../../libs/hyps-transport/src/protocol/frame-decoder.js';
import {
  encodeHello,
  encodeRecord,
  encodeSub,
} from '../../libs/hyps-transport/src/protocol/encode.js';

interface Write {
  socket: FakeSocket;
  frames: DecodedFrame[];
}

/** The socket calls a BrokerConnection makes; every write is decoded into a shared log. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  private corked = false;
  private readonly corkedChunks: Buffer[] = [];

  constructor(
    readonly name: string,
    private readonly log: Write[],
  ) {
    super();
  }
  setNoDelay(): this {
    return this;
  }
  write(chunk: Buffer): boolean {
    if (this.corked) this.corkedChunks.push(Buffer.from(chunk));
    else this.logWrite(Buffer.from(chunk));
    return true;
  }
  /** Writes made between cork and uncork reach the kernel as one (writev). */
  cork(): void {
    this.corked = true;
  }
  uncork(): void {
    this.corked = false;
    this.logWrite(Buffer.concat(this.corkedChunks.splice(0)));
  }
  private logWrite(bytes: Buffer): void {
    // The broker writes whole frames, so each write decodes on its own.
    this.log.push({ socket: this, frames: decodeFrames(bytes, { from: 'broker' }) });
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

const endOfPhase = () => new Promise((resolve) => setImmediate(resolve));

async function brokerWithPair() {
  const broker = new Broker({ port: 0 });
  const log: Write[] = [];
  const connect = (name: string) => {
    const socket = new FakeSocket(name, log);
    (broker as unknown as { accept(socket: Socket): void }).accept(socket as unknown as Socket);
    socket.emit('data', encodeHello({ protocol: 1 }));
    return socket;
  };
  const subscriber = connect('subscriber');
  subscriber.emit('data', encodeSub('user.1'));
  const publisher = connect('publisher');
  await endOfPhase();
  log.length = 0;
  return { log, subscriber, publisher };
}

describe('broker write timing', () => {
  it("writes a chunk's deliveries, then the reader's answers, when the chunk is done", async () => {
    const { log, subscriber, publisher } = await brokerWithPair();
    publisher.emit(
      'data',
      Buffer.concat([encodeRecord('user.1', 'one'), encodeRecord('user.1', 'two')]),
    );
    // Before the end of the poll phase: both are written already, deliveries first.
    expect(log.map((write) => write.socket.name)).toEqual(['subscriber', 'publisher']);
    expect(log[0]!.frames.map((frame) => frame.type)).toEqual(['record', 'record']);
    expect(log[1]!.frames).toEqual([{ type: 'ok', results: [1, 1] }]);
    await endOfPhase();
    expect(log).toHaveLength(2);
    expect(subscriber.destroyed).toBe(false);
  });

  it('writes all deliveries of a large chunk before its answers, one write each', async () => {
    const { log, publisher } = await brokerWithPair();
    const records = Array.from({ length: 40 }, () =>
      encodeRecord('user.1', Buffer.alloc(1000, 'x')),
    );
    publisher.emit('data', Buffer.concat(records));
    expect(log.map((write) => write.socket.name)).toEqual(['subscriber', 'publisher']);
    expect(log[0]!.frames).toHaveLength(40);
    const ok = log[1]!.frames[0] as { type: 'ok'; results: number[] };
    expect(ok.results).toEqual(new Array(40).fill(1));
  });

  it('leaves what later chunks of a poll phase cause to the end of the phase', async () => {
    const { log, publisher } = await brokerWithPair();
    for (const text of ['one', 'two', 'three', 'four']) {
      publisher.emit('data', encodeRecord('user.1', text));
    }
    // Two early writes per connection, the third and fourth chunks wait.
    expect(log.map((write) => write.socket.name)).toEqual([
      'subscriber',
      'publisher',
      'subscriber',
      'publisher',
    ]);
    await endOfPhase();
    expect(log.slice(4).map((write) => write.socket.name)).toEqual(['subscriber', 'publisher']);
    expect(log[4]!.frames).toHaveLength(2);
    expect(log[5]!.frames).toEqual([{ type: 'ok', results: [1, 1] }]);
    // A new phase has its early writes again.
    publisher.emit('data', encodeRecord('user.1', 'five'));
    expect(log).toHaveLength(8);
  });
});
