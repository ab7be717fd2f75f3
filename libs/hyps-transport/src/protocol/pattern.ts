import { isWildcardPattern } from './channel.js';

/**
 * Pattern matching on token arrays (PROTOCOL.md section 2): `*` matches exactly one token, `>` as
 * the last token matches one or more.
 */
export function matchesPattern(pattern: readonly string[], channel: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i];
    if (token === '>') return channel.length > i;
    if (i >= channel.length) return false;
    if (token !== '*' && token !== channel[i]) return false;
  }
  return pattern.length === channel.length;
}

/**
 * True when every channel that `inner` can match is also matched by `outer`. Used for subscribe
 * permissions: `chat.>` covers `chat.*` and `chat.room.>`, but not `>` nor `*.room`.
 */
export function patternCovers(outer: readonly string[], inner: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    if (i >= outer.length) return i >= inner.length;
    const allowed = outer[i];
    if (allowed === '>') return i < inner.length;
    if (i >= inner.length) return false;
    const wanted = inner[i];
    if (wanted === '>') return false;
    if (allowed === '*') continue;
    if (allowed !== wanted) return false;
  }
}

/** Splits a channel or pattern into its tokens. */
export function tokenize(name: string): string[] {
  return name.split('.');
}

/**
 * A wildcard pattern's tokens, or null for an exact channel. A name without '*' or '>' is not
 * split at all: a subscription to an exact channel (the common one, a channel per user) keeps no
 * token array and no token strings.
 */
export function wildcardTokens(pattern: string): string[] | null {
  if (!pattern.includes('*') && !pattern.includes('>')) return null;
  const tokens = tokenize(pattern);
  return isWildcardPattern(tokens) ? tokens : null;
}
