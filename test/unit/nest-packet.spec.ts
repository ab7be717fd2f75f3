import fc from 'fast-check';
import type { HypsMessage } from '@hyps/transport';
import {
  decodeIncoming,
  decodePayload,
  encodeEventPacket,
  encodePacket,
} from '../../libs/hyps-transport/src/nest/packet.js';

/** A delivery of `text` on `channel` that counts how often its whole text is decoded. */
function delivery(channel: string, text: string): HypsMessage & { texts: number } {
  const data = Buffer.from(`x${text}`).subarray(1); // a view at an offset, as deliveries are
  return {
    channel,
    data,
    texts: 0,
    text() {
      this.texts++;
      return data.toString('utf8');
    },
    json<T>(): T {
      return JSON.parse(this.text()) as T;
    },
  };
}

describe('encodeEventPacket', () => {
  it('makes exactly the text encodePacket makes of { pattern, data }', () => {
    fc.assert(
      fc.property(fc.string(), fc.anything(), (pattern, data) => {
        expect(encodeEventPacket(pattern, data)).toBe(encodePacket({ pattern, data }));
      }),
      { numRuns: 500 },
    );
  });

  it('handles data that JSON drops, and patterns needing escapes', () => {
    for (const data of [undefined, () => 1, Symbol('s')]) {
      expect(encodeEventPacket('a.b', data)).toBe('{"pattern":"a.b"}');
    }
    expect(encodeEventPacket('quote"d\\\n', 1)).toBe(
      encodePacket({ pattern: 'quote"d\\\n', data: 1 }),
    );
    const withToJson = { toJSON: () => ({ shown: true }) };
    expect(JSON.parse(encodeEventPacket('p', withToJson))).toEqual({
      pattern: 'p',
      data: { shown: true },
    });
  });

  it('stays correct past its cache bound', () => {
    for (let i = 0; i < 3000; i++) {
      const pattern = `p.${i % 1500}`;
      expect(encodeEventPacket(pattern, i)).toBe(`{"pattern":"${pattern}","data":${i}}`);
    }
  });
});

describe('decodeIncoming', () => {
  const channelArb = fc.stringMatching(/^[!-~]{1,20}$/);

  it('gives what decodePayload gives, for events, requests and any text', () => {
    fc.assert(
      fc.property(channelArb, fc.jsonValue(), fc.string(), (channel, data, other) => {
        const texts = [
          encodeEventPacket(channel, data),
          encodePacket({ pattern: channel, data, id: 'r1', replyTo: '_INBOX.a' }),
          encodePacket({ pattern: channel, data, metadata: { trace: other } }),
          encodePacket({ pattern: `${channel}.other`, data }),
          `${encodeEventPacket(channel, data)} `,
          other,
        ];
        for (const text of texts) {
          expect(decodeIncoming(delivery(channel, text))).toEqual(
            decodePayload(delivery(channel, text)),
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('parses only the data of an event encoded for its own channel', () => {
    const message = delivery('orders.eu', encodeEventPacket('orders.eu', { id: 7, note: 'é"}' }));
    expect(decodeIncoming(message)).toEqual({
      pattern: 'orders.eu',
      data: { id: 7, note: 'é"}' },
    });
    expect(message.texts).toBe(0);
    const quoted = delivery('a"b', encodeEventPacket('a"b', [1]));
    expect(decodeIncoming(quoted)).toEqual({ pattern: 'a"b', data: [1] });
    expect(quoted.texts).toBe(0);
  });

  it('after a packet with more keys, decodes that channel whole for 64 events, then retries', () => {
    const channel = 'traced.events';
    const traced = delivery(channel, encodePacket({ pattern: channel, data: 1, metadata: {} }));
    expect(decodeIncoming(traced)).toEqual({ pattern: channel, data: 1, metadata: {} });
    const plain = () => delivery(channel, encodeEventPacket(channel, 2));
    for (let i = 0; i < 64; i++) {
      const message = plain();
      expect(decodeIncoming(message)).toEqual({ pattern: channel, data: 2 });
      expect(message.texts).toBe(1);
    }
    const retried = plain();
    expect(decodeIncoming(retried)).toEqual({ pattern: channel, data: 2 });
    expect(retried.texts).toBe(0);
  });

  it('skips twice as long after each further miss, and from 64 again after a hit', () => {
    const channel = 'requests.mostly';
    const request = () =>
      decodeIncoming(
        delivery(channel, encodePacket({ pattern: channel, data: 1, id: 'i', replyTo: 'r' })),
      );
    /** Events decoded whole before one takes the short way (bounded). */
    const wholeEventsBeforeHit = () => {
      for (let whole = 0; whole < 100_000; whole++) {
        const event = delivery(channel, encodeEventPacket(channel, 3));
        expect(decodeIncoming(event)).toEqual({ pattern: channel, data: 3 });
        if (event.texts === 0) return whole;
      }
      throw new Error('the short way never came back');
    };
    request(); // a miss: skip 64
    for (let i = 0; i < 64; i++) request(); // skipped
    request(); // a second miss: skip 128
    expect(wholeEventsBeforeHit()).toBe(128);
    request(); // a miss after a hit: skip 64 again
    expect(wholeEventsBeforeHit()).toBe(64);
  });
});
