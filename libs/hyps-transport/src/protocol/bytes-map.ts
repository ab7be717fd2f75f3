import { randomInt } from 'node:crypto';

/** One key of a BytesMap: its string, its bytes, and the value. */
export class BytesEntry<V> {
  /** Next entry in the same bucket. */
  next: BytesEntry<V> | undefined = undefined;

  constructor(
    readonly key: string,
    readonly bytes: Buffer,
    readonly hash: number,
    public value: V,
  ) {}
}

const INITIAL_BUCKETS = 64;

/**
 * A map from string keys that can also be looked up by the key's encoded bytes where they lie in
 * a received chunk: the hot paths (a broker routing a record, a client dispatching a delivery)
 * find the entry without building a string, and get the key's string from it. Chained buckets,
 * doubled at a load factor of 1; a random seed per map keeps bucket placement unpredictable.
 */
export class BytesMap<V> {
  private buckets: Array<BytesEntry<V> | undefined> = new Array(INITIAL_BUCKETS).fill(undefined);
  private mask = INITIAL_BUCKETS - 1;
  private readonly byKey = new Map<string, BytesEntry<V>>();
  private readonly seed = randomInt(0x7fffffff);

  /** `encoding` turns keys into the bytes that lookups compare against. */
  constructor(private readonly encoding: 'utf8' | 'latin1') {}

  get size(): number {
    return this.byKey.size;
  }

  /** The entry whose key encodes to `buf[start..end)`. */
  lookup(buf: Buffer, start: number, end: number): BytesEntry<V> | undefined {
    const hash = this.hashOf(buf, start, end);
    const length = end - start;
    for (let entry = this.buckets[hash & this.mask]; entry; entry = entry.next) {
      if (entry.hash !== hash || entry.bytes.length !== length) continue;
      const bytes = entry.bytes;
      let i = 0;
      while (i < length && bytes[i] === buf[start + i]) i++;
      if (i === length) return entry;
    }
    return undefined;
  }

  get(key: string): BytesEntry<V> | undefined {
    return this.byKey.get(key);
  }

  /** Sets the value of `key`, adding the entry if needed; returns the entry. */
  set(key: string, value: V): BytesEntry<V> {
    const existing = this.byKey.get(key);
    if (existing) {
      existing.value = value;
      return existing;
    }
    if (this.byKey.size >= this.buckets.length) this.grow();
    const bytes = Buffer.from(key, this.encoding);
    const entry = new BytesEntry(key, bytes, this.hashOf(bytes, 0, bytes.length), value);
    this.byKey.set(key, entry);
    this.link(entry);
    return entry;
  }

  delete(key: string): boolean {
    const entry = this.byKey.get(key);
    if (!entry) return false;
    this.byKey.delete(key);
    const at = entry.hash & this.mask;
    if (this.buckets[at] === entry) {
      this.buckets[at] = entry.next;
    } else {
      let previous = this.buckets[at];
      while (previous && previous.next !== entry) previous = previous.next;
      if (previous) previous.next = entry.next;
    }
    entry.next = undefined;
    return true;
  }

  clear(): void {
    this.byKey.clear();
    this.buckets = new Array(INITIAL_BUCKETS).fill(undefined);
    this.mask = INITIAL_BUCKETS - 1;
  }

  private hashOf(buf: Buffer, start: number, end: number): number {
    // FNV-1a, 32 bits.
    let hash = 0x811c9dc5 ^ this.seed;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    return hash >>> 0;
  }

  private link(entry: BytesEntry<V>): void {
    const at = entry.hash & this.mask;
    entry.next = this.buckets[at];
    this.buckets[at] = entry;
  }

  private grow(): void {
    this.buckets = new Array(this.buckets.length * 2).fill(undefined);
    this.mask = this.buckets.length - 1;
    for (const entry of this.byKey.values()) this.link(entry);
  }
}
