import { GenerationalCache } from '../../libs/hyps-transport/src/client/generational-cache.js';

/** Counts the misses of cycling `rounds` times over `keys` keys, filling on a miss. */
function missesCycling(cache: GenerationalCache<string, number>, keys: number, rounds: number) {
  let misses = 0;
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < keys; k++) {
      if (cache.get(`k${k}`) === undefined) {
        misses++;
        cache.set(`k${k}`, k);
      }
    }
  }
  return misses;
}

describe('GenerationalCache', () => {
  it('keeps hitting a working set a little larger than its limit', () => {
    // 101 keys over a limit of 100: a map cleared when full would miss on every access.
    const cache = new GenerationalCache<string, number>(100);
    expect(missesCycling(cache, 101, 10)).toBe(101);
  });

  it('stays bounded: a key unused for two generations is gone', () => {
    const cache = new GenerationalCache<string, number>(10);
    cache.set('first', 1);
    for (let i = 0; i < 25; i++) cache.set(`other${i}`, i);
    expect(cache.get('first')).toBeUndefined();
    expect(cache.get('other24')).toBe(24);
  });

  it('moves a key found in the old generation back into the young one', () => {
    const cache = new GenerationalCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.set('d', 4); // young {d}, old {a, b, c}
    expect(cache.get('a')).toBe(1); // young {d, a}
    cache.set('e', 5); // young {d, a, e}
    cache.set('f', 6); // young {f}, old {d, a, e}: b and c are gone, a survived
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
  });

  it('forgets everything on clear', () => {
    const cache = new GenerationalCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
  });
});
