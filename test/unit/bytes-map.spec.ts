import fc from 'fast-check';
import { RouteMemo } from '../../libs/hyps-transport/src/broker/route-memo.js';
import { RoutingTable } from '../../libs/hyps-transport/src/broker/routing-table.js';
import { ExactChannelIndex } from '../../libs/hyps-transport/src/client/exact-channel-index.js';
import { BytesMap } from '../../libs/hyps-transport/src/protocol/bytes-map.js';

/** Finds `name` the way a delivery does: by its bytes inside a larger received chunk. */
function lookupInChunk(index: ExactChannelIndex<string>, name: string): readonly string[] | null {
  const chunk = Buffer.from(`\u0000\u0000\u0000\u0000${name}\nbody\n`, 'utf8');
  const start = 4;
  const end = start + Buffer.byteLength(name, 'utf8');
  const id = index.lookup(chunk, start, end);
  return id >= 0 ? index.subscribersOf(id) : null;
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
    expect(found).toBeGreaterThanOrEqual(0);
    expect(index.nameOf(found)).toBe('prix.€.zürich');
    expect(index.subscribersOf(found)).toEqual(['a', 'b']);
    index.remove('prix.€.zürich', 'a');
    expect(lookupInChunk(index, 'prix.€.zürich')).toEqual(['b']);
  });

  it('names the sole subscriber of a channel only while it has exactly one', () => {
    const index = new ExactChannelIndex<string>();
    const soleOf = (name: string): string | undefined => {
      const chunk = Buffer.from(name);
      const id = index.lookup(chunk, 0, chunk.length);
      return id >= 0 ? index.soleTargetOf(id) : undefined;
    };
    index.add('user.1', 'a');
    expect(soleOf('user.1')).toBe('a');
    index.add('user.1', 'b');
    expect(soleOf('user.1')).toBeUndefined();
    expect(lookupInChunk(index, 'user.1')).toEqual(['a', 'b']);
    index.remove('user.1', 'a');
    expect(soleOf('user.1')).toBe('b');
    index.remove('user.1', 'b');
    expect(lookupInChunk(index, 'user.1')).toBeNull();
    // The freed id goes to the next channel, which must not inherit the old subscriber.
    index.add('user.2', 'c');
    index.add('user.2', 'd');
    expect(soleOf('user.2')).toBeUndefined();
    expect(lookupInChunk(index, 'user.2')).toEqual(['c', 'd']);
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
    expect(index.subscribersOf(index.lookup(chunk, 0, 4))).toHaveLength(20_000);
    for (let i = 0; i < 20_000; i += 2) index.remove('news', i);
    const left = index.subscribersOf(index.lookup(chunk, 0, 4));
    expect(left).toHaveLength(10_000);
    expect(left[0]).toBe(1);
    expect(left[9_999]).toBe(19_999);
    for (let i = 1; i < 20_000; i += 2) index.remove('news', i);
    expect(index.lookup(chunk, 0, 4)).toBe(-1);
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

  it('gives a reused channel id a fresh subscriber list', () => {
    const index = new ExactChannelIndex<string>();
    index.add('gone', 'old');
    const goneId = index.lookup(Buffer.from('gone'), 0, 4);
    expect(index.subscribersOf(goneId)).toEqual(['old']);
    index.remove('gone', 'old');
    index.add('fresh', 'new');
    const freshId = index.lookup(Buffer.from('fresh'), 0, 5);
    expect(freshId).toBe(goneId);
    expect(index.nameOf(freshId)).toBe('fresh');
    expect(index.subscribersOf(freshId)).toEqual(['new']);
  });
});

/** `key`'s bytes in `encoding` inside a larger buffer, as a received chunk holds a channel. */
function inChunk(
  key: string,
  encoding: 'utf8' | 'latin1',
  before = 3,
): { buf: Buffer; start: number; end: number } {
  const bytes = Buffer.from(key, encoding);
  const buf = Buffer.concat([Buffer.alloc(before, 0x2e), bytes, Buffer.from('\n.tail')]);
  return { buf, start: before, end: before + bytes.length };
}

function findIn(map: BytesMap<unknown>, key: string, encoding: 'utf8' | 'latin1'): number {
  const { buf, start, end } = inChunk(key, encoding);
  return map.find(buf, start, end);
}

describe('BytesMap', () => {
  it('finds a key by a range inside a larger buffer, not by its neighbours', () => {
    const map = new BytesMap<number>('utf8');
    const id = map.set('orders.eu', 1);
    const buf = Buffer.from('xxorders.eu.morexx');
    expect(map.find(buf, 2, 11)).toBe(id);
    expect(map.find(buf, 2, 10)).toBe(-1);
    expect(map.find(buf, 2, 12)).toBe(-1);
    expect(map.find(buf, 3, 11)).toBe(-1);
    expect(map.keyOf(id)).toBe('orders.eu');
    expect(map.valueOf(id)).toBe(1);
  });

  it('looks latin1 keys up by their wire bytes, one char per byte', () => {
    const map = new BytesMap<number>('latin1');
    const wire = Buffer.from('prix.€', 'utf8');
    const key = wire.toString('latin1');
    const id = map.set(key, 7);
    expect(map.find(wire, 0, wire.length)).toBe(id);
    expect(map.valueOf(id)).toBe(7);
    expect(map.keyOf(id)).toBe(key);
  });

  it('compares the bytes of the encoding it was made with', () => {
    const utf8 = new BytesMap<number>('utf8');
    const latin1 = new BytesMap<number>('latin1');
    const u = utf8.set('café', 1);
    const l = latin1.set('café', 2);
    expect(findIn(utf8, 'café', 'utf8')).toBe(u);
    expect(findIn(utf8, 'café', 'latin1')).toBe(-1);
    expect(findIn(latin1, 'café', 'latin1')).toBe(l);
    expect(findIn(latin1, 'café', 'utf8')).toBe(-1);
    const utf8Bytes = inChunk('café', 'utf8');
    expect(utf8.matches(u, utf8Bytes.buf, utf8Bytes.start, utf8Bytes.end)).toBe(true);
    expect(latin1.matches(l, utf8Bytes.buf, utf8Bytes.start, utf8Bytes.end)).toBe(false);
  });

  it('updates the value of an existing key in place and keeps its id', () => {
    const map = new BytesMap<string>('utf8');
    const first = map.set('a.b', 'one');
    const second = map.set('a.b', 'two');
    expect(second).toBe(first);
    expect(map.size).toBe(1);
    expect(map.valueOf(map.idOf('a.b'))).toBe('two');
    map.setValue(first, 'three');
    expect(map.valueOf(findIn(map, 'a.b', 'utf8'))).toBe('three');
    expect(map.idOf('a.c')).toBe(-1);
  });

  it('holds the empty key', () => {
    const map = new BytesMap<number>('utf8');
    const id = map.set('', 0);
    expect(map.find(Buffer.from('abc'), 1, 1)).toBe(id);
    expect(map.delete('')).toBe(true);
    expect(map.find(Buffer.from('abc'), 1, 1)).toBe(-1);
  });

  it('forgets everything on clear and works again after it', () => {
    const map = new BytesMap<number>('utf8');
    for (let i = 0; i < 300; i++) map.set(`k.${i}`, i);
    map.clear();
    expect(map.size).toBe(0);
    expect(findIn(map, 'k.5', 'utf8')).toBe(-1);
    expect(map.idOf('k.5')).toBe(-1);
    const id = map.set('k.5', 5);
    expect(findIn(map, 'k.5', 'utf8')).toBe(id);
    expect(map.valueOf(id)).toBe(5);
  });

  it('deletes from the middle of probe runs and keeps every other key reachable', () => {
    // 1,000 keys in 2,048 slots: runs of several neighbours are certain.
    const map = new BytesMap<number>('utf8');
    for (let i = 0; i < 1000; i++) map.set(`c.${i}`, i);
    for (let i = 0; i < 1000; i += 3) expect(map.delete(`c.${i}`)).toBe(true);
    expect(map.delete('c.0')).toBe(false);
    expect(map.size).toBe(666);
    for (let i = 0; i < 1000; i++) {
      const id = findIn(map, `c.${i}`, 'utf8');
      if (i % 3 === 0) expect(id).toBe(-1);
      else expect(map.valueOf(id)).toBe(i);
    }
  });

  it('tells apart keys whose hashes are equal', () => {
    // With seed 0 each pair has the same 32-bit FNV-1a hash; the second pair also the same length.
    const pairs = [
      ['c.288961', 'c.1181100'],
      ['k.0012789', 'k.0249192'],
    ];
    for (const [a, b] of pairs) {
      const map = new BytesMap<string>('utf8', { seed: 0 });
      const idA = map.set(a!, a!);
      expect(findIn(map, b!, 'utf8')).toBe(-1);
      const idB = map.set(b!, b!);
      expect(findIn(map, a!, 'utf8')).toBe(idA);
      expect(findIn(map, b!, 'utf8')).toBe(idB);
      map.delete(a!);
      expect(findIn(map, a!, 'utf8')).toBe(-1);
      expect(map.valueOf(findIn(map, b!, 'utf8'))).toBe(b);
    }
  });

  it('matches an id only while it holds those key bytes, also after reuse', () => {
    const map = new BytesMap<number>('latin1');
    const a = inChunk('route.a', 'latin1');
    const b = inChunk('route.b', 'latin1');
    const id = map.set('route.a', 1);
    expect(map.matches(id, a.buf, a.start, a.end)).toBe(true);
    expect(map.matches(id, b.buf, b.start, b.end)).toBe(false);
    expect(map.matches(id, a.buf, a.start, a.end - 1)).toBe(false);
    expect(map.matches(-1, a.buf, a.start, a.end)).toBe(false);
    expect(map.matches(id + 1, a.buf, a.start, a.end)).toBe(false);

    map.delete('route.a');
    expect(map.matches(id, a.buf, a.start, a.end)).toBe(false);
    expect(map.set('route.b', 2)).toBe(id);
    expect(map.matches(id, a.buf, a.start, a.end)).toBe(false);
    expect(map.matches(id, b.buf, b.start, b.end)).toBe(true);

    map.clear();
    expect(map.matches(id, b.buf, b.start, b.end)).toBe(false);
  });

  it('keeps long keys and many of them across arena growth and compaction', () => {
    const map = new BytesMap<number>('utf8', { compactAfterBytes: 1024 });
    const long = (i: number): string => `${'x'.repeat(700)}.${i}.${'é'.repeat(i % 50)}`;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 100; i++) map.set(long(i), round * 1000 + i);
      for (let i = 0; i < 100; i++) if (i % 4 !== round) map.delete(long(i));
      for (let i = 0; i < 100; i++) {
        const id = findIn(map, long(i), 'utf8');
        if (i % 4 === round) expect(map.valueOf(id)).toBe(round * 1000 + i);
        else expect(id).toBe(-1);
      }
    }
  });

  describe('against a Map', () => {
    // Wrap private steps to check that the random runs reach them.
    type Internals = Record<'growSlots' | 'compactArena', (this: unknown) => void>;
    const internals = BytesMap.prototype as unknown as Internals;
    const reached = { growSlots: 0, compactArena: 0 };
    const originals = { ...reached } as unknown as Internals;
    beforeAll(() => {
      for (const name of ['growSlots', 'compactArena'] as const) {
        const original = (originals[name] = internals[name]);
        internals[name] = function (this: unknown) {
          reached[name]++;
          original.call(this);
        };
      }
    });
    afterAll(() => {
      internals.growSlots = originals.growSlots;
      internals.compactArena = originals.compactArena;
    });

    type Op =
      | { kind: 'set'; key: number; value: number }
      | { kind: 'delete'; key: number }
      | { kind: 'clear' }
      | { kind: 'find'; key: number; before: number }
      | { kind: 'remembered'; key: number };
    const key = fc.nat({ max: 79 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 24, arbitrary: fc.record({ kind: fc.constant('set'), key, value: fc.nat() }) },
      { weight: 16, arbitrary: fc.record({ kind: fc.constant('delete'), key }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear') }) },
      {
        weight: 14,
        arbitrary: fc.record({ kind: fc.constant('find'), key, before: fc.nat({ max: 5 }) }),
      },
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('remembered'), key }) },
    );
    // Few characters and lengths, with 'é' as two UTF-8 bytes: many keys share prefixes, lengths
    // and home slots.
    const keyText = fc
      .array(fc.constantFrom('a', 'b', '.', 'é'), { minLength: 0, maxLength: 7 })
      .map((chars) => chars.join(''));
    const keys = fc.uniqueArray(keyText, { minLength: 30, maxLength: 80 });

    /** Fails the property like expect(actual).toBe(expected), without expect's cost per step. */
    function same(actual: unknown, expected: unknown, what: string): void {
      if (!Object.is(actual, expected)) throw new Error(`${what}: got ${actual}, want ${expected}`);
    }

    it.each(['utf8', 'latin1'] as const)('agrees on every operation (%s)', (encoding) => {
      reached.growSlots = reached.compactArena = 0;
      fc.assert(
        fc.property(keys, fc.array(op, { minLength: 150, maxLength: 400 }), (names, ops) => {
          const map = new BytesMap<number>(encoding, { compactAfterBytes: 8 });
          const reference = new Map<string, number>();
          /** The id each key had when last set, for `matches` after deletes and reuse. */
          const remembered = new Map<string, number>();
          for (const step of ops) {
            const k = step.kind === 'clear' ? '' : names[step.key % names.length]!;
            switch (step.kind) {
              case 'set': {
                const id = map.set(k, step.value);
                if (reference.has(k)) same(id, remembered.get(k), `id of updated '${k}'`);
                reference.set(k, step.value);
                remembered.set(k, id);
                break;
              }
              case 'delete':
                same(map.delete(k), reference.delete(k), `delete '${k}'`);
                break;
              case 'clear':
                map.clear();
                reference.clear();
                break;
              case 'find': {
                const wire = inChunk(k, encoding, step.before);
                const id = map.find(wire.buf, wire.start, wire.end);
                same(id, map.idOf(k), `find vs idOf '${k}'`);
                if (!reference.has(k)) same(id, -1, `find absent '${k}'`);
                else {
                  same(map.keyOf(id), k, `keyOf find '${k}'`);
                  same(map.valueOf(id), reference.get(k), `valueOf find '${k}'`);
                }
                break;
              }
              case 'remembered': {
                const id = remembered.get(k);
                if (id === undefined) break;
                const wire = inChunk(k, encoding);
                const live = reference.has(k) && map.idOf(k) === id;
                same(map.matches(id, wire.buf, wire.start, wire.end), live, `matches '${k}'`);
                break;
              }
            }
            same(map.size, reference.size, 'size');
          }
          for (const [k, value] of reference) {
            const id = findIn(map, k, encoding);
            same(map.keyOf(id), k, `keyOf at end '${k}'`);
            same(map.valueOf(id), value, `valueOf at end '${k}'`);
          }
          const ids = [...reference.keys()].map((k) => map.idOf(k));
          same(new Set(ids).size, ids.length, 'distinct ids');
        }),
        { numRuns: 200 },
      );
      expect(reached.growSlots).toBeGreaterThan(0);
      expect(reached.compactArena).toBeGreaterThan(0);
    });
  });
});

describe('RouteMemo over route cache ids', () => {
  it('stops answering when the cache is refilled and its id belongs to another channel', () => {
    const table = new RoutingTable<string>();
    table.add('conn-a', 'memo.a', null);
    const memo = new RouteMemo<string>();
    const wire = inChunk('memo.a', 'latin1');
    const id = table.route('memo.a');
    memo.remember(id, table.version);
    expect(table.routeOf(memo.lookup(wire.buf, wire.start, wire.end, table)).plain).toEqual([
      'conn-a',
    ]);

    // Enough new channels to make route() clear the full cache: ids start again from 0 while
    // the table's version stays the same.
    const version = table.version;
    let reused = false;
    for (let i = 0; i < 70_000 && !reused; i++) {
      const other = table.route(`memo.other.${i}`);
      reused = other === id && table.channelOf(other) !== 'memo.a';
    }
    expect(reused).toBe(true);
    expect(table.version).toBe(version);
    expect(memo.lookup(wire.buf, wire.start, wire.end, table)).toBe(-1);

    const again = table.route('memo.a');
    memo.remember(again, table.version);
    expect(table.channelOf(again)).toBe('memo.a');
    expect(table.routeOf(memo.lookup(wire.buf, wire.start, wire.end, table)).plain).toEqual([
      'conn-a',
    ]);
  });
});
