/**
 * A bounded map for hot keys: two generations of at most `limit` entries each. When the young one
 * is full it becomes the old one (the previous old one is dropped), and a key found only in the
 * old one moves back to the young one. So a working set up to `limit` keys always hits, and one a
 * little larger mostly does, with no per-access bookkeeping as an LRU list would need; a plain
 * map cleared whenever full would miss on every access once the set outgrows it.
 */
export class GenerationalCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
