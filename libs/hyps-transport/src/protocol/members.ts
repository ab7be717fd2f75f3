/**
 * The members of a channel or subscription entry: the member itself while it is the only one,
 * a Set from the second on. Nearly every channel has one subscriber (one channel per user), and
 * a Set with its hash table costs about 200 bytes: in the client two per subscription were a
 * third of what it kept for each, in the broker one was. Members are never Sets themselves, nor
 * undefined.
 */
export type Members<T> = T | Set<T>;

/** `members` with `item` added (the same Set when there already is one). */
export function withMember<T>(members: Members<T> | undefined, item: T): Members<T> {
  if (members === undefined || members === item) return item;
  if (members instanceof Set) return members.add(item);
  return new Set([members, item]);
}

/**
 * `members` without `item`: undefined when none is left, the last one itself when one is, else
 * the same Set.
 */
export function withoutMember<T>(members: Members<T> | undefined, item: T): Members<T> | undefined {
  if (!(members instanceof Set)) return members === item ? undefined : members;
  members.delete(item);
  if (members.size !== 1) return members;
  return members.values().next().value;
}

export function hasMember<T>(members: Members<T> | undefined, item: T): boolean {
  return members instanceof Set ? members.has(item) : members === item;
}

/** The sole member, or undefined when there are none or several. */
export function soleMember<T>(members: Members<T> | undefined): T | undefined {
  return members instanceof Set ? undefined : members;
}

/** The members as a new array, in the order they came. */
export function memberArray<T>(members: Members<T> | undefined): T[] {
  if (members === undefined) return [];
  return members instanceof Set ? [...members] : [members];
}

/** Calls `visit` with each member, in the order they came. */
export function forEachMember<T>(members: Members<T> | undefined, visit: (item: T) => void): void {
  if (members === undefined) return;
  if (members instanceof Set) for (const item of members) visit(item);
  else visit(members);
}
