import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { channelProblem } from '../protocol/channel.js';
import { patternCovers, matchesPattern } from '../protocol/pattern.js';
import { BrokerConfigError } from './broker-config-error.js';
import type { BrokerAuth, HypsUser } from './options.js';

/** What a HELLO proved: who the peer is and what it may do. */
export interface Grant {
  name: string | undefined;
  /** Null when everything is allowed. */
  permissions: Permissions | null;
}

/**
 * A user's publish and subscribe patterns, as token arrays in the broker's routing keys (latin1
 * strings of the UTF-8 bytes). A missing list allows everything, an empty one nothing.
 */
export class Permissions {
  private readonly publish: string[][] | null;
  private readonly subscribe: string[][] | null;

  constructor(user: HypsUser) {
    this.publish = user.publish ? user.publish.map(toRoutingTokens) : null;
    this.subscribe = user.subscribe ? user.subscribe.map(toRoutingTokens) : null;
  }

  canPublish(channelTokens: readonly string[]): boolean {
    return (
      this.publish === null ||
      this.publish.some((allowed) => matchesPattern(allowed, channelTokens))
    );
  }

  /** A SUB is allowed when one subscribe pattern matches every channel the SUB can match. */
  canSubscribe(patternTokens: readonly string[]): boolean {
    return (
      this.subscribe === null ||
      this.subscribe.some((allowed) => patternCovers(allowed, patternTokens))
    );
  }
}

function toRoutingTokens(pattern: string): string[] {
  return Buffer.from(pattern, 'utf8').toString('latin1').split('.');
}

/** Compares two secrets in time independent of where they differ and of their lengths. */
function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  return timingSafeEqual(digestA, digestB) && a.length === b.length;
}

/** Judges HELLO credentials for one of the three auth modes (PROTOCOL.md sections 5 and 8). */
export class Authenticator {
  private readonly users: Map<string, { secret: Buffer; permissions: Permissions | null }>;
  private readonly token: Buffer | null;
  /** Used for unknown users so that a miss costs the same as a wrong secret. */
  private readonly decoySecret = randomBytes(32);

  constructor(private readonly auth: BrokerAuth) {
    this.token = auth.mode === 'token' ? Buffer.from(auth.token, 'utf8') : null;
    this.users = new Map();
    if (auth.mode === 'hmac') {
      for (const user of auth.users) {
        const unrestricted = user.publish === undefined && user.subscribe === undefined;
        this.users.set(user.user, {
          secret: Buffer.from(user.secret, 'utf8'),
          permissions: unrestricted ? null : new Permissions(user),
        });
      }
    }
  }

  get mode(): BrokerAuth['mode'] {
    return this.auth.mode;
  }

  /** A fresh nonce for INFO when the mode is hmac. */
  newNonce(): string | undefined {
    return this.auth.mode === 'hmac' ? randomBytes(32).toString('base64') : undefined;
  }

  /** The grant for a HELLO, or null when its credential is wrong or missing. */
  verify(hello: Record<string, unknown>, nonce: string | undefined): Grant | null {
    const name = typeof hello.name === 'string' ? hello.name : undefined;
    switch (this.auth.mode) {
      case 'none':
        return { name, permissions: null };
      case 'token': {
        if (typeof hello.token !== 'string') return null;
        return constantTimeEqual(Buffer.from(hello.token, 'utf8'), this.token!)
          ? { name, permissions: null }
          : null;
      }
      case 'hmac': {
        if (
          typeof hello.user !== 'string' ||
          typeof hello.signature !== 'string' ||
          nonce === undefined
        )
          return null;
        const user = this.users.get(hello.user);
        const expected = createHmac('sha256', user?.secret ?? this.decoySecret)
          .update(nonce)
          .digest();
        const given = Buffer.from(hello.signature, 'base64');
        if (!constantTimeEqual(given, expected) || !user) return null;
        return { name: name ?? hello.user, permissions: user.permissions };
      }
    }
  }
}

/** Reads and checks a users file (PROTOCOL.md section 8). Throws BrokerConfigError. */
export function loadUsersFile(path: string): HypsUser[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new BrokerConfigError(`cannot read users file ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new BrokerConfigError(
      `users file ${path} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  return parseUsers(parsed, path);
}

/** Checks a parsed users document; `source` names it in messages. */
export function parseUsers(document: unknown, source = 'users'): HypsUser[] {
  const list = (document as { users?: unknown } | null)?.users;
  if (!Array.isArray(list)) throw new BrokerConfigError(`${source}: expected {"users": [...]}`);
  const seen = new Set<string>();
  return list.map((entry: unknown, index) => {
    const where = `${source}: users[${index}]`;
    if (typeof entry !== 'object' || entry === null)
      throw new BrokerConfigError(`${where} is not an object`);
    const { user, secret, publish, subscribe } = entry as Record<string, unknown>;
    if (typeof user !== 'string' || user.length === 0)
      throw new BrokerConfigError(`${where}.user must be a non-empty string`);
    if (seen.has(user)) throw new BrokerConfigError(`${where}.user '${user}' appears twice`);
    seen.add(user);
    if (typeof secret !== 'string' || secret.length === 0)
      throw new BrokerConfigError(`${where}.secret must be a non-empty string`);
    return {
      user,
      secret,
      ...(publish === undefined ? {} : { publish: patternList(publish, `${where}.publish`) }),
      ...(subscribe === undefined
        ? {}
        : { subscribe: patternList(subscribe, `${where}.subscribe`) }),
    };
  });
}

function patternList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new BrokerConfigError(`${where} must be a list of patterns`);
  return value.map((pattern: unknown, index) => {
    if (typeof pattern !== 'string')
      throw new BrokerConfigError(`${where}[${index}] must be a string`);
    const bytes = Buffer.from(pattern, 'utf8');
    const problem = channelProblem(bytes, 0, bytes.length, 'pattern', Number.MAX_SAFE_INTEGER);
    if (problem) throw new BrokerConfigError(`${where}[${index}] '${pattern}': ${problem}`);
    return pattern;
  });
}
