import fc from 'fast-check';
import { PatternTrie, matchesPattern, patternCovers, tokenize } from '@hyps/transport';

const matches = (pattern: string, channel: string): boolean =>
  matchesPattern(tokenize(pattern), tokenize(channel));
const covers = (outer: string, inner: string): boolean =>
  patternCovers(tokenize(outer), tokenize(inner));

describe('tokenize', () => {
  it('splits at dots', () => {
    expect(tokenize('orders.eu.1')).toEqual(['orders', 'eu', '1']);
    expect(tokenize('a')).toEqual(['a']);
    expect(tokenize('a.>')).toEqual(['a', '>']);
  });
});

describe('matchesPattern', () => {
  it.each([
    ['orders.*', 'orders.eu', true],
    ['orders.*', 'orders.eu.1', false],
    ['orders.*', 'orders', false],
    ['orders.>', 'orders.eu', true],
    ['orders.>', 'orders.eu.1', true],
    ['orders.>', 'orders', false],
    ['orders.eu', 'orders.eu', true],
    ['orders.eu', 'orders.us', false],
    ['orders.eu', 'orders.eu.1', false],
    ['orders.eu.1', 'orders.eu', false],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['>', 'a', true],
    ['>', 'a.b.c', true],
    ['*.b.*', 'a.b.c', true],
    ['*.b.*', 'a.x.c', false],
    ['*.>', 'a', false],
    ['*.>', 'a.b', true],
    ['a.*.>', 'a.b.c.d', true],
    ['a.*.>', 'a.b', false],
    ['a.b*', 'a.bc', false],
    ['a.b*', 'a.b*', true],
  ])('%s matches %s: %s', (pattern, channel, expected) => {
    expect(matches(pattern, channel)).toBe(expected);
  });
});

describe('patternCovers', () => {
  it.each([
    // PROTOCOL.md section 8.
    ['chat.>', 'chat.*', true],
    ['chat.>', 'chat.room.>', true],
    ['chat.>', '>', false],
    ['chat.>', '*.room', false],
    // More shapes.
    ['chat.>', 'chat.room', true],
    ['chat.>', 'chat', false],
    ['chat.>', 'chat.>', true],
    ['chat.*', 'chat.>', false],
    ['chat.*', 'chat.room', true],
    ['chat.*', 'chat.*', true],
    ['chat.*', 'chat.room.x', false],
    ['chat.room', 'chat.*', false],
    ['chat.room', 'chat.room', true],
    ['>', '>', true],
    ['>', '*.a.>', true],
    ['*', '>', false],
    ['*.>', 'a.>', true],
    ['a.*.>', 'a.>', false],
    ['*.room', 'chat.room', true],
    ['*.room', '*.*', false],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(covers(outer, inner)).toBe(expected);
  });
});

/** Small alphabets make collisions between patterns and channels likely. */
const literal = fc.constantFrom('a', 'b', 'c');
const channelTokens = fc.array(literal, { minLength: 1, maxLength: 4 });
const patternTokens = fc
  .tuple(
    fc.array(fc.oneof(literal, fc.constant('*')), { minLength: 0, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens))
  .filter((tokens) => tokens.length > 0);

/** Every channel of 1..5 tokens over the alphabet plus a token no pattern uses. */
const ALL_CHANNELS: string[][] = (() => {
  const out: string[][] = [];
  const grow = (prefix: string[]) => {
    if (prefix.length > 0) out.push(prefix);
    if (prefix.length === 5) return;
    for (const token of ['a', 'b', 'c', 'z']) grow([...prefix, token]);
  };
  grow([]);
  return out;
})();

describe('patternCovers against brute force', () => {
  it('covers exactly when no channel matches the inner pattern but not the outer one', () => {
    fc.assert(
      fc.property(patternTokens, patternTokens, (outer, inner) => {
        const counterexample = ALL_CHANNELS.find(
          (channel) => matchesPattern(inner, channel) && !matchesPattern(outer, channel),
        );
        expect(patternCovers(outer, inner)).toBe(counterexample === undefined);
      }),
      { numRuns: 300 },
    );
  });
});

describe('PatternTrie', () => {
  const collect = <V>(trie: PatternTrie<V>, channel: string): V[] => {
    const seen: V[] = [];
    trie.match(tokenize(channel), (value) => seen.push(value));
    return seen.sort();
  };

  it('matches exact, * and > patterns like matchesPattern', () => {
    const trie = new PatternTrie<string>();
    for (const pattern of ['orders.eu', 'orders.*', 'orders.>', '>', '*.eu', 'orders.eu.>', '*']) {
      expect(trie.add(tokenize(pattern), pattern)).toBe(true);
    }
    expect(trie.size).toBe(7);
    expect(collect(trie, 'orders.eu')).toEqual(['*.eu', '>', 'orders.*', 'orders.>', 'orders.eu']);
    expect(collect(trie, 'orders.eu.1')).toEqual(['>', 'orders.>', 'orders.eu.>']);
    expect(collect(trie, 'orders')).toEqual(['*', '>']);
    expect(collect(trie, 'x.y.z')).toEqual(['>']);
  });

  it('reports a value once per pattern, and each pattern that holds it', () => {
    const trie = new PatternTrie<number>();
    trie.add(['a', '*'], 1);
    trie.add(['a', '>'], 1);
    trie.add(['a', 'b'], 2);
    expect(collect(trie, 'a.b')).toEqual([1, 1, 2]);
  });

  it('ignores a duplicate add and counts each value under a pattern once', () => {
    const trie = new PatternTrie<string>();
    expect(trie.add(['a', '>'], 'x')).toBe(true);
    expect(trie.add(['a', '>'], 'x')).toBe(false);
    expect(trie.add(['a', '>'], 'y')).toBe(true);
    expect(trie.size).toBe(2);
    expect(collect(trie, 'a.b')).toEqual(['x', 'y']);
    expect(trie.remove(['a', '>'], 'x')).toBe(true);
    expect(collect(trie, 'a.b')).toEqual(['y']);
    expect(trie.size).toBe(1);
  });

  it('remove returns false for what is not there and leaves the rest alone', () => {
    const trie = new PatternTrie<string>();
    trie.add(['a', 'b'], 'x');
    expect(trie.remove(['a', 'b'], 'y')).toBe(false);
    expect(trie.remove(['a'], 'x')).toBe(false);
    expect(trie.remove(['a', 'b', 'c'], 'x')).toBe(false);
    expect(trie.remove(['a', '*'], 'x')).toBe(false);
    expect(trie.remove(['a', '>'], 'x')).toBe(false);
    expect(trie.remove(['q'], 'x')).toBe(false);
    expect(trie.size).toBe(1);
    expect(collect(trie, 'a.b')).toEqual(['x']);
  });

  it('prunes nodes that no longer lead to a value, and keeps the ones that do', () => {
    const trie = new PatternTrie<string>();
    const root = (trie as unknown as { root: TrieNodeView }).root;
    trie.add(['a', 'b', 'c'], 'deep');
    trie.add(['a', '*', '>'], 'wild');
    trie.add(['a'], 'short');
    expect(countNodes(root)).toBe(5); // root, a, a.b, a.b.c, a.*

    trie.remove(['a', 'b', 'c'], 'deep');
    expect(countNodes(root)).toBe(3); // root, a, a.*
    trie.remove(['a', '*', '>'], 'wild');
    expect(countNodes(root)).toBe(2); // root, a (still holds 'short')
    expect(collect(trie, 'a')).toEqual(['short']);
    trie.remove(['a'], 'short');
    expect(countNodes(root)).toBe(1);
    expect(trie.size).toBe(0);
    expect(collect(trie, 'a')).toEqual([]);
  });

  it('agrees with matchesPattern on random patterns and channels', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(patternTokens, fc.integer({ min: 0, max: 3 })), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(channelTokens, { minLength: 1, maxLength: 6 }),
        (entries, removals, channels) => {
          const trie = new PatternTrie<string>();
          const held = new Map<string, [string[], number]>();
          for (const [tokens, value] of entries) {
            const key = `${tokens.join('.')}#${value}`;
            expect(trie.add(tokens, key)).toBe(!held.has(key));
            held.set(key, [tokens, value]);
          }
          for (const index of removals) {
            const keys = [...held.keys()];
            if (keys.length === 0) break;
            const key = keys[index % keys.length]!;
            expect(trie.remove(held.get(key)![0], key)).toBe(true);
            expect(trie.remove(held.get(key)![0], key)).toBe(false);
            held.delete(key);
          }
          expect(trie.size).toBe(held.size);
          for (const channel of channels) {
            const seen: string[] = [];
            trie.match(channel, (key) => seen.push(key));
            const expected = [...held]
              .filter(([, [tokens]]) => matchesPattern(tokens, channel))
              .map(([key]) => key);
            expect(seen.sort()).toEqual(expected.sort());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

interface TrieNodeView {
  children: Map<string, TrieNodeView> | null;
  star: TrieNodeView | null;
}

function countNodes(node: TrieNodeView): number {
  let count = 1;
  if (node.star) count += countNodes(node.star);
  for (const child of node.children?.values() ?? []) count += countNodes(child);
  return count;
}
