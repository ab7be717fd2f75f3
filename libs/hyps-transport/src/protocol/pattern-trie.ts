interface TrieNode<V> {
  children: Map<string, TrieNode<V>> | null;
  star: TrieNode<V> | null;
  /** Values of patterns ending exactly at this node. */
  values: Set<V> | null;
  /** Values of patterns ending in `>` right after this node. */
  tail: Set<V> | null;
}

function newNode<V>(): TrieNode<V> {
  return { children: null, star: null, values: null, tail: null };
}

/**
 * A token trie of wildcard patterns. `match` visits every value whose pattern matches a channel;
 * its cost depends on the channel's depth and the wildcards on its path, not on the number of
 * patterns stored.
 */
export class PatternTrie<V> {
  private readonly root: TrieNode<V> = newNode();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds `value` under `tokens`; returns false when it was already there. */
  add(tokens: readonly string[], value: V): boolean {
    let node = this.root;
    const last = tokens.length - 1;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token === '>' && i === last) {
        node.tail ??= new Set();
        return this.insert(node.tail, value);
      }
      node = this.step(node, token);
    }
    node.values ??= new Set();
    return this.insert(node.values, value);
  }

  /** Removes `value` from under `tokens`, pruning empty nodes; false when it was not there. */
  remove(tokens: readonly string[], value: V): boolean {
    const removed = this.removeAt(this.root, tokens, 0, value);
    if (removed) this.count--;
    return removed;
  }

  /** Calls `visit` for each value whose pattern matches `channel` (may repeat across patterns). */
  match(channel: readonly string[], visit: (value: V) => void): void {
    this.matchAt(this.root, channel, 0, visit);
  }

  private matchAt(
    node: TrieNode<V>,
    channel: readonly string[],
    depth: number,
    visit: (value: V) => void,
  ): void {
    if (depth === channel.length) {
      if (node.values) for (const value of node.values) visit(value);
      return;
    }
    if (node.tail) for (const value of node.tail) visit(value);
    const exact = node.children?.get(channel[depth]!);
    if (exact) this.matchAt(exact, channel, depth + 1, visit);
    if (node.star) this.matchAt(node.star, channel, depth + 1, visit);
  }

  private step(node: TrieNode<V>, token: string): TrieNode<V> {
    if (token === '*') return (node.star ??= newNode());
    node.children ??= new Map();
    let child = node.children.get(token);
    if (!child) {
      child = newNode();
      node.children.set(token, child);
    }
    return child;
  }

  private insert(set: Set<V>, value: V): boolean {
    if (set.has(value)) return false;
    set.add(value);
    this.count++;
    return true;
  }

  private removeAt(node: TrieNode<V>, tokens: readonly string[], depth: number, value: V): boolean {
    if (depth === tokens.length) return node.values?.delete(value) ?? false;
    const token = tokens[depth]!;
    if (token === '>' && depth === tokens.length - 1) return node.tail?.delete(value) ?? false;
    const child = token === '*' ? node.star : node.children?.get(token);
    if (!child || !this.removeAt(child, tokens, depth + 1, value)) return false;
    if (isEmpty(child)) {
      if (token === '*') node.star = null;
      else node.children!.delete(token);
    }
    return true;
  }
}

function isEmpty<V>(node: TrieNode<V>): boolean {
  return (
    !node.star &&
    (!node.children || node.children.size === 0) &&
    (!node.values || node.values.size === 0) &&
    (!node.tail || node.tail.size === 0)
  );
}
