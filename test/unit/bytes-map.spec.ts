import { ExactChannelIndex } from '../../libs/hyps-transport/src/client/exact-channel-index.js';
import { BytesMap } from '../../libs/hyps-transport/src/protocol/bytes-map.js';

/** Finds `name` the way a delivery does: by its bytes inside a larger received chunk. */
function lookupInChunk(index: ExactChannelIndex<string>, name: string): readonly string[] | null {
  const chunk = Buffer.from(`\u0000\u0000\u0000\u0000${name}\nbody\n`, 'utf8');
  const start = 4;
  const end = start + Buffer.byteLength(name, 'utf8');
  const channel = index.lookup(chunk, start, end);
  return channel ? index.subscribersOf(channel) : null;
}

describe('ExactChannelIndex', () => {
  it('finds every channel by its bytes across bucket growth, and forgets removed ones', () => {
    const index = new ExactChannelIndex<string>();
    const names = Array.from({ length: 5000 }, (_, i) => `users.${i}.feed`);
    for (const name of names) index.add(name, `sub-of-${name}`);
    expect(index.size).toBe(5000);
    for (const name of names) expect(lookupInChunk(index, name)).toEqual([`sub-of-${name}`]);

    for (let i = 0; i < names.length; i += 2) index.remove(names[i]!, `sub-of-${names[i]}`);
    expect(index.size).toBe(2500);
    for (let i = 0; i < names.length; i++) {
      const expected = i % 2 === 0 ? null : [`sub-of-${names[i]}`];
      expect(lookupInChunk(index, names[i]!)).toEqual(expected);
    }
  });

  it('keeps the subscription name string and several subscribers in order', () => {
    const index = new ExactChannelIndex<string>();
    index.add('prix.€.zürich', 'a');
    index.add('prix.€.zürich', 'b');
    const chunk = Buffer.from('prix.€.zürich', 'utf8');
    const found = index.lookup(chunk, 0, chunk.length);
    expect(found?.key).toBe('prix.€.zürich');
    expect(index.subscribersOf(found!)).toEqual(['a', 'b']);
    index.remove('prix.€.zürich', 'a');
    expect(lookupInChunk(index, 'prix.€.zürich')).toEqual(['b']);
  });

  it('does not match prefixes, extensions or unknown channels', () => {
    const index = new ExactChannelIndex<string>();
    index.add('orders.eu', 'x');
    expect(lookupInChunk(index, 'orders.e')).toBeNull();
    expect(lookupInChunk(index, 'orders.eu2')).toBeNull();
    expect(lookupInChunk(index, 'orders.us')).toBeNull();
    expect(lookupInChunk(index, 'orders.eu')).toEqual(['x']);
  });

  it('replaces the subscriber list on change, so a delivery loop in progress is unaffected', () => {
    const index = new ExactChannelIndex<string>();
    index.add('a', 'one');
    index.add('a', 'two');
    const before = lookupInChunk(index, 'a');
    index.remove('a', 'one');
    index.add('a', 'three');
    expect(before).toEqual(['one', 'two']);
    expect(lookupInChunk(index, 'a')).toEqual(['two', 'three']);
  });

  it('removes thousands of subscribers of one channel without copying the list each time', () => {
    const index = new ExactChannelIndex<number>();
    for (let i = 0; i < 20_000; i++) index.add('news', i);
    const chunk = Buffer.from('news');
    expect(index.subscribersOf(index.lookup(chunk, 0, 4)!)).toHaveLength(20_000);
    for (let i = 0; i < 20_000; i += 2) index.remove('news', i);
    const left = index.subscribersOf(index.lookup(chunk, 0, 4)!);
    expect(left).toHaveLength(10_000);
    expect(left[0]).toBe(1);
    expect(left[9_999]).toBe(19_999);
    for (let i = 1; i < 20_000; i += 2) index.remove('news', i);
    expect(index.lookup(chunk, 0, 4)).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it('ignores removing what is not there', () => {
    const index = new ExactChannelIndex<string>();
    index.add('a', 'one');
    index.remove('a', 'other');
    index.remove('b', 'one');
    expect(index.size).toBe(1);
    expect(lookupInChunk(index, 'a')).toEqual(['one']);
  });
});

describe('BytesMap', () => {
  it('looks latin1 keys up by their wire bytes, one char per byte', () => {
    const map = new BytesMap<number>('latin1');
    const wire = Buffer.from('prix.€', 'utf8');
    const key = wire.toString('latin1');
    map.set(key, 7);
    expect(map.lookup(wire, 0, wire.length)?.value).toBe(7);
    expect(map.lookup(wire, 0, wire.length)?.key).toBe(key);
  });

  it('updates the value of an existing key in place and keeps its entry', () => {
    const map = new BytesMap<string>('utf8');
    const first = map.set('a.b', 'one');
    const second = map.set('a.b', 'two');
    expect(second).toBe(first);
    expect(map.size).toBe(1);
    expect(map.get('a.b')?.value).toBe('two');
  });

  it('forgets everything on clear and works again after it', () => {
    const map = new BytesMap<number>('utf8');
    for (let i = 0; i < 300; i++) map.set(`k.${i}`, i);
    map.clear();
    expect(map.size).toBe(0);
    const k5 = Buffer.from('k.5');
    expect(map.lookup(k5, 0, k5.length)).toBeUndefined();
    map.set('k.5', 5);
    expect(map.lookup(k5, 0, k5.length)?.value).toBe(5);
  });

  it('deletes from the middle of a bucket chain', () => {
    // 1,000 keys in 1,024 buckets: chains of several entries are certain.
    const map = new BytesMap<number>('utf8');
    for (let i = 0; i < 1000; i++) map.set(`c.${i}`, i);
    for (let i = 0; i < 1000; i += 3) expect(map.delete(`c.${i}`)).toBe(true);
    expect(map.delete('c.0')).toBe(false);
    for (let i = 0; i < 1000; i++) {
      const bytes = Buffer.from(`c.${i}`);
      expect(map.lookup(bytes, 0, bytes.length)?.value).toBe(i % 3 === 0 ? undefined : i);
    }
  });
});
