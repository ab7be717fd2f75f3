// When the broker writes to a connection: right after each chunk it read, what that chunk caused
// (deliveries first, the reader's answers last), not at the end of the poll phase. Sockets are fakes that log every write, so the order of
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
    // The broker writes whole frames, so each write decodes on its own.
    this.log.push({ socket: this, frames: decodeFrames(Buffer.from(chunk), { from: 'broker' }) });
    return true;
  }
  cork(): void {}
  uncork(): void {}
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
});
