import fc from 'fast-check';
import { bufferView } from '../../libs/hyps-transport/src/client/buffer-view.js';
import { ReceivedMessage } from '../../libs/hyps-transport/src/client/message.js';

describe('bufferView', () => {
  it('is a Buffer like subarray: same class, same bytes, same memory', () => {
    // A pooled Buffer, so its byteOffset into the ArrayBuffer is not 0.
    const pooled = Buffer.from('xxhello, worldyy');
    const view = bufferView(pooled, 2, 14);
    const expected = pooled.subarray(2, 14);
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(Object.getPrototypeOf(view)).toBe(Object.getPrototypeOf(expected));
    expect(view.constructor).toBe(Buffer);
    expect(view.toString()).toBe('hello, world');
    expect(view.buffer).toBe(pooled.buffer);
    expect(view.byteOffset).toBe(expected.byteOffset);
    view[0] = 0x48; // 'H': a view, not a copy
    expect(pooled.toString('latin1', 2, 3)).toBe('H');
    expect(view.subarray(1, 4).toString()).toBe('ell');
  });

  it('matches subarray over any range of any buffer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.nat(),
        fc.nat(),
        fc.nat(8),
        (bytes, a, b, lead) => {
          const backing = Buffer.alloc(bytes.length + lead);
          backing.set(bytes, lead);
          const buf = backing.subarray(lead);
          const start = a % (buf.length + 1);
          const end = start + (b % (buf.length - start + 1));
          const view = bufferView(buf, start, end);
          expect(view.equals(buf.subarray(start, end))).toBe(true);
          expect(view.byteOffset).toBe(buf.byteOffset + start);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('views each buffer over its own memory when views of several alternate', () => {
    // Three Buffers over one pooled ArrayBuffer at different offsets, and one of their own.
    const first = Buffer.from('aaaa-first');
    const second = Buffer.from('bbbb-second');
    const third = first.subarray(5);
    const own = Buffer.alloc(8, 0x6f);
    const order = [first, second, first, third, own, third, second, own, first];
    for (const buf of order) {
      const view = bufferView(buf, 1, 4);
      expect(view.equals(buf.subarray(1, 4))).toBe(true);
      expect(view.buffer).toBe(buf.buffer);
      expect(view.byteOffset).toBe(buf.byteOffset + 1);
    }
  });

  it('gives ReceivedMessage.data, once per message', () => {
    const chunk = Buffer.from('chan\nbody\n');
    const message = new ReceivedMessage('chan', chunk, 5, 9);
    expect(message.data.toString()).toBe('body');
    expect(Buffer.isBuffer(message.data)).toBe(true);
    expect(message.data).toBe(message.data);
  });
});
