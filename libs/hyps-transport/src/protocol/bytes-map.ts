import { randomInt } from 'node:crypto';

/**
 * Each slot is two consecutive int32: the key's hash and its id + 1 (0 marks an empty slot).
 * Where a key's bytes lie in the arena is kept per id, not per slot: the table, the one part a
 * lookup reads at a random place, stays half as large (256 KiB for 10,000 keys), and the per-id
 * data is read only when the hash agrees.
 */
const SLOT_INTS = 2;
const HASH = 0;
const ID_PLUS_ONE = 1;
/** Per id, two consecutive int32 of `keyPlaces`: where its bytes start in the arena, and how many. */
const KEY_START = 0;
const KEY_LENGTH = 1;

/** Slots of a new or cleared map (a power of two); it holds half as many keys before doubling. */
const INITIAL_SLOTS = 32;
const INITIAL_ARENA_BYTES = 512;
/** Dead key bytes tolerated before compacting the arena (and only once they outweigh the live). */
const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024;

export interface BytesMapOptions {
  /** Dead arena bytes below which the arena is never compacted (tests lower it). */
  compactAfterBytes?: number;
  /** Hash seed; random by default. A fixed seed is for tests that need known collisions. */
  seed?: number;
}

/**
 * A map from string keys that can also be looked up by the key's encoded bytes where they lie in
 * a received chunk: the hot paths (a broker routing a record, a client dispatching a delivery)
 * find the key without building a string. Keys get small integer ids, reused after deletion, so
 * callers keep per-key data in plain arrays indexed by id instead of one object per key.
 *
 * The layout is compact because with thousands of channels a lookup is bound by cache and TLB
 * misses, not by instructions: a chained map of entry objects, each with its own key Buffer,
 * costs a miss per hop (bucket, entry, Buffer, pooled bytes, value). Here the table is one
 * Int32Array (open addressing, linear probing, load factor <= 1/2, backward-shift deletion so no
 * tombstones), and every key's bytes sit in one arena Buffer. A random seed per map keeps slot
 * placement unpredictable to publishers choosing channel names.
 */
export class BytesMap<V> {
  private slots = new Int32Array(INITIAL_SLOTS * SLOT_INTS);
  private mask = INITIAL_SLOTS - 1;
  private arena = Buffer.alloc(INITIAL_ARENA_BYTES);
  /** Arena bytes written so far; bytes of deleted keys stay until compaction. */
  private arenaUsed = 0;
  private deadBytes = 0;
  /** Per id: its key, its value, and the slot that holds it (-1 once the id is free). */
  private keys: string[] = [];
  private values: (V | undefined)[] = [];
  private slotOf = new Int32Array(INITIAL_SLOTS).fill(-1);
  /** Per id, at 2 * id: its bytes' start in the arena and their length. */
  private keyPlaces = new Int32Array(INITIAL_SLOTS * 2);
  private freeIds: number[] = [];
  private readonly idByKey = new Map<string, number>();
  private readonly seed: number;
  private readonly compactAfterBytes: number;

  /** `encoding` turns keys into the bytes that lookups compare against. */
  constructor(
    private readonly encoding: 'utf8' | 'latin1',
    options: BytesMapOptions = {},
  ) {
    this.seed = options.seed ?? randomInt(0x7fffffff);
    this.compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
  }

  get size(): number {
    return this.idByKey.size;
  }

  /** The id of the key that encodes to `buf[start..end)`, or -1. Allocates nothing. */
  find(buf: Buffer, start: number, end: number): number {
    const hash = this.hashOf(buf, start, end);
    const length = end - start;
    const slots = this.slots;
    const mask = this.mask;
    // At most half the slots are used, so an empty slot ends every probe.
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = slot * SLOT_INTS;
      const idPlusOne = slots[at + ID_PLUS_ONE];
      if (idPlusOne === 0) return -1;
      if (slots[at + HASH] !== hash) continue;
      const place = 2 * (idPlusOne - 1);
      if (this.keyPlaces[place + KEY_LENGTH] !== length) continue;
      const arena = this.arena;
      let k = this.keyPlaces[place + KEY_START];
      let i = start;
      while (i < end && arena[k] === buf[i]) {
        i++;
        k++;
      }
      if (i === end) return idPlusOne - 1;
    }
  }

  /** True when `id` is a live key whose bytes are `buf[start..end)`. Any number is accepted. */
  matches(id: number, buf: Buffer, start: number, end: number): boolean {
    if (id < 0 || id >= this.keys.length) return false;
    if (this.slotOf[id] < 0) return false;
    const length = end - start;
    if (this.keyPlaces[2 * id + KEY_LENGTH] !== length) return false;
    const arena = this.arena;
    const keyStart = this.keyPlaces[2 * id + KEY_START];
    for (let i = 0; i < length; i++) if (arena[keyStart + i] !== buf[start + i]) return false;
    return true;
  }

  /** The id of `key`, or -1. */
  idOf(key: string): number {
    return this.idByKey.get(key) ?? -1;
  }

  /** The key of a live id. */
  keyOf(id: number): string {
    return this.keys[id];
  }

  /** The value of a live id. */
  valueOf(id: number): V {
    return this.values[id] as V;
  }

  /** Sets the value of a live id. */
  setValue(id: number, value: V): void {
    this.values[id] = value;
  }

  /** Sets the value of `key`, adding the key if needed; returns its id. */
  set(key: string, value: V): number {
    const existing = this.idByKey.get(key);
    if (existing !== undefined) {
      this.values[existing] = value;
      return existing;
    }
    if ((this.idByKey.size + 1) * 2 > this.mask + 1) this.growSlots();
    const length = Buffer.byteLength(key, this.encoding);
    const keyStart = this.reserveArena(length);
    this.arena.write(key, keyStart, length, this.encoding);
    const hash = this.hashOf(this.arena, keyStart, keyStart + length);

    const id = this.freeIds.pop() ?? this.keys.length;
    if (id >= this.slotOf.length) this.growSlotOf(id + 1);
    const slot = this.emptySlotFor(hash);
    const at = slot * SLOT_INTS;
    this.slots[at + HASH] = hash;
    this.slots[at + ID_PLUS_ONE] = id + 1;
    this.keyPlaces[2 * id + KEY_START] = keyStart;
    this.keyPlaces[2 * id + KEY_LENGTH] = length;
    this.slotOf[id] = slot;
    this.keys[id] = key;
    this.values[id] = value;
    this.idByKey.set(key, id);
    return id;
  }

  delete(key: string): boolean {
    const id = this.idByKey.get(key);
    if (id === undefined) return false;
    this.idByKey.delete(key);
    const slots = this.slots;
    const mask = this.mask;
    let hole = this.slotOf[id];
    this.deadBytes += this.keyPlaces[2 * id + KEY_LENGTH];
    // Backward shift: pull each later key of the probe run into the hole unless that would move
    // it before its home slot, so every remaining key stays reachable without tombstones.
    for (let slot = (hole + 1) & mask; ; slot = (slot + 1) & mask) {
      const at = slot * SLOT_INTS;
      const idPlusOne = slots[at + ID_PLUS_ONE];
      if (idPlusOne === 0) break;
      const home = slots[at + HASH] & mask;
      if (((slot - home) & mask) < ((slot - hole) & mask)) continue;
      slots.copyWithin(hole * SLOT_INTS, at, at + SLOT_INTS);
      this.slotOf[idPlusOne - 1] = hole;
      hole = slot;
    }
    slots.fill(0, hole * SLOT_INTS, hole * SLOT_INTS + SLOT_INTS);
    this.slotOf[id] = -1;
    this.keys[id] = '';
    this.values[id] = undefined;
    this.freeIds.push(id);
    // Deleted keys' bytes stay in the arena; reclaim them once they outweigh the live ones, so
    // churn through many channel names cannot grow it without bound.
    const live = this.arenaUsed - this.deadBytes;
    if (this.deadBytes >= this.compactAfterBytes && this.deadBytes > live) this.compactArena();
    return true;
  }

  clear(): void {
    this.slots = new Int32Array(INITIAL_SLOTS * SLOT_INTS);
    this.mask = INITIAL_SLOTS - 1;
    this.arena = Buffer.alloc(INITIAL_ARENA_BYTES);
    this.arenaUsed = 0;
    this.deadBytes = 0;
    this.keys = [];
    this.values = [];
    this.slotOf = new Int32Array(INITIAL_SLOTS).fill(-1);
    this.keyPlaces = new Int32Array(INITIAL_SLOTS * 2);
    this.freeIds = [];
    this.idByKey.clear();
  }

  private hashOf(buf: Buffer, start: number, end: number): number {
    // FNV-1a, 32 bits, as a signed int32 to compare with the slots' Int32Array.
    let hash = 0x811c9dc5 ^ this.seed;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
    return hash | 0;
  }

  /** The first empty slot of `hash`'s probe run (for a key known to be absent). */
  private emptySlotFor(hash: number): number {
    let slot = hash & this.mask;
    while (this.slots[slot * SLOT_INTS + ID_PLUS_ONE] !== 0) slot = (slot + 1) & this.mask;
    return slot;
  }

  /** Doubles the table, placing keys by their stored hashes: no key bytes are read. */
  private growSlots(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = new Int32Array(capacity * SLOT_INTS);
    this.mask = capacity - 1;
    for (let at = 0; at < old.length; at += SLOT_INTS) {
      const idPlusOne = old[at + ID_PLUS_ONE];
      if (idPlusOne === 0) continue;
      const slot = this.emptySlotFor(old[at + HASH]);
      this.slots.set(old.subarray(at, at + SLOT_INTS), slot * SLOT_INTS);
      this.slotOf[idPlusOne - 1] = slot;
    }
  }

  private growSlotOf(needed: number): void {
    let length = this.slotOf.length * 2;
    while (length < needed) length *= 2;
    const grown = new Int32Array(length).fill(-1);
    grown.set(this.slotOf);
    this.slotOf = grown;
    const places = new Int32Array(length * 2);
    places.set(this.keyPlaces);
    this.keyPlaces = places;
  }

  /** Where `length` more key bytes go: appended, after doubling the arena when full. */
  private reserveArena(length: number): number {
    if (this.arenaUsed + length > this.arena.length) {
      let size = this.arena.length * 2;
      while (size < this.arenaUsed + length) size *= 2;
      const grown = Buffer.alloc(size);
      this.arena.copy(grown, 0, 0, this.arenaUsed);
      this.arena = grown;
    }
    const keyStart = this.arenaUsed;
    this.arenaUsed += length;
    return keyStart;
  }

  /** Rebuilds the arena from the live keys only and points their ids at the new places. */
  private compactArena(): void {
    const live = this.arenaUsed - this.deadBytes;
    let size = INITIAL_ARENA_BYTES;
    while (size < live * 2) size *= 2;
    const old = this.arena;
    const arena = Buffer.alloc(size);
    const places = this.keyPlaces;
    let used = 0;
    for (let id = 0; id < this.keys.length; id++) {
      if (this.slotOf[id] < 0) continue;
      const keyStart = places[2 * id + KEY_START];
      const length = places[2 * id + KEY_LENGTH];
      old.copy(arena, used, keyStart, keyStart + length);
      places[2 * id + KEY_START] = used;
      used += length;
    }
    this.arena = arena;
    this.arenaUsed = used;
    this.deadBytes = 0;
  }
}
