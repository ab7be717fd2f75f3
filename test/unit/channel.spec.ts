import {
  DEFAULT_MAX_CHANNEL_BYTES,
  InvalidChannelError,
  NameKind,
  assertValidName,
  channelProblem,
  isWildcardPattern,
} from '@hyps/transport';

const problemOf = (name: string | Uint8Array, kind: NameKind, maxBytes?: number): string | null => {
  const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  return channelProblem(bytes, 0, bytes.length, kind, maxBytes);
};

const KINDS: NameKind[] = ['channel', 'pattern', 'group'];

/** Valid as every kind: a published channel is also a valid pattern and a valid group name. */
const VALID_EVERYWHERE = [
  'a',
  'foo_ch',
  'orders.eu.1',
  'a.b*',
  '*a.b>',
  'a>.>b',
  '**',
  '>>',
  '_INBOX.x9f-3',
  '~!"#$%&\'()+,/:;<=?@[\\]^`{|}',
  'café.日本',
  '🎉.x',
  'a'.repeat(DEFAULT_MAX_CHANNEL_BYTES),
  'é'.repeat(DEFAULT_MAX_CHANNEL_BYTES / 2),
];

/** Invalid as every kind, with a word the reason must contain. */
const INVALID_EVERYWHERE: Array<[string, string | Uint8Array, RegExp]> = [
  ['empty', '', /empty/],
  ['too long', 'a'.repeat(DEFAULT_MAX_CHANNEL_BYTES + 1), /over the limit of 256/],
  ['too long in bytes, not characters', 'é'.repeat(128) + 'a', /257 bytes/],
  ['leading dot', '.a', /empty token/],
  ['trailing dot', 'a.', /empty token/],
  ['double dot', 'a..b', /empty token/],
  ['only a dot', '.', /empty token/],
  ['space', 'a b', /0x20/],
  ['tab', 'a\tb', /0x09/],
  ['newline', 'a\nb', /0x0a/],
  ['NUL', 'a\0', /0x00/],
  ['control byte 0x1f', '\x1f', /0x1f/],
  ['DEL 0x7f', 'a\x7f', /0x7f/],
  ['lone continuation byte', Uint8Array.of(0x61, 0x80), /UTF-8/],
  ['truncated two-byte sequence', Uint8Array.of(0xc3), /UTF-8/],
  ['byte 0xFF', Uint8Array.of(0x61, 0xff, 0x62), /UTF-8/],
  ['overlong encoding of /', Uint8Array.of(0xc0, 0xaf), /UTF-8/],
  ['UTF-16 surrogate', Uint8Array.of(0xed, 0xa0, 0x80), /UTF-8/],
  ['above U+10FFFF', Uint8Array.of(0xf4, 0x90, 0x80, 0x80), /UTF-8/],
];

describe('channelProblem', () => {
  it.each(VALID_EVERYWHERE)('accepts %j as a channel, a pattern and a group', (name) => {
    for (const kind of KINDS) expect(problemOf(name, kind)).toBeNull();
  });

  it.each(INVALID_EVERYWHERE)('rejects a name with %s', (_why, name, reason) => {
    for (const kind of KINDS) {
      const problem = problemOf(name, kind);
      expect(problem).toMatch(reason);
      expect(problem).toContain(kind);
    }
  });

  it.each([['*'], ['>'], ['a.*'], ['*.b'], ['a.*.c'], ['a.>'], ['>'], ['*.*.>']])(
    'accepts the wildcard %j only as a pattern',
    (name) => {
      expect(problemOf(name, 'pattern')).toBeNull();
      expect(problemOf(name, 'channel')).toMatch(/may not have a '[*>]' token/);
      expect(problemOf(name, 'group')).toMatch(/may not have a '[*>]' token/);
    },
  );

  it.each([['>.a'], ['a.>.b'], ['>.>'], ['>.*']])(
    'rejects %j: > must be the last token',
    (name) => {
      expect(problemOf(name, 'pattern')).toMatch(/'>' may only be the last token/);
    },
  );

  it('applies maxBytes', () => {
    expect(problemOf('abcd', 'channel', 4)).toBeNull();
    expect(problemOf('abcde', 'channel', 4)).toMatch(/5 bytes, over the limit of 4/);
    expect(problemOf('ab.€', 'pattern', 5)).toMatch(/6 bytes/);
    expect(problemOf('a'.repeat(1000), 'group', 1000)).toBeNull();
  });

  it('looks only at bytes[start..end), wherever the array sits in its buffer', () => {
    const backing = Buffer.from([0x00, 0xff, 0x61, 0xc3, 0xa9, 0x2e, 0x62, 0xff, 0x00]);
    const view = backing.subarray(1); // a non-zero byteOffset
    // 'aé.b' sits at view[1..6), between bytes that are invalid UTF-8 on purpose.
    expect(channelProblem(view, 1, 6, 'channel')).toBeNull();
    expect(channelProblem(view, 0, 6, 'channel')).toMatch(/UTF-8/);
    expect(channelProblem(view, 1, 7, 'channel')).toMatch(/UTF-8/);
    expect(channelProblem(view, 1, 3, 'channel')).toMatch(/UTF-8/); // cuts 'é' in half
    expect(channelProblem(view, 1, 8, 'channel')).toMatch(/0x00/);
    expect(channelProblem(view, 3, 3, 'channel')).toMatch(/empty/);
    expect(channelProblem(view, 4, 6, 'channel')).toMatch(/empty token/);
  });
});

describe('assertValidName', () => {
  it('returns the UTF-8 bytes of a valid name', () => {
    expect(assertValidName('café.x', 'channel')).toEqual(Buffer.from('café.x', 'utf8'));
    expect(assertValidName('orders.>', 'pattern')).toEqual(Buffer.from('orders.>'));
    expect(assertValidName('workers', 'group')).toEqual(Buffer.from('workers'));
  });

  it.each([
    ['', 'channel'],
    ['a.*', 'channel'],
    ['a b', 'pattern'],
    ['>.a', 'pattern'],
    ['orders.>', 'group'],
    ['a..b', 'group'],
  ] as Array<[string, NameKind]>)(
    'throws InvalidChannelError (ERR 3) for %j as a %s',
    (name, kind) => {
      let error: unknown;
      try {
        assertValidName(name, kind);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidChannelError);
      expect(error).toMatchObject({ code: 'INVALID_CHANNEL', wireCode: 3, fatal: false });
      expect((error as Error).message).toContain(`invalid ${kind}`);
    },
  );

  it('applies maxBytes', () => {
    expect(() => assertValidName('abc', 'channel', 3)).not.toThrow();
    expect(() => assertValidName('abcd', 'channel', 3)).toThrow(InvalidChannelError);
    expect(() => assertValidName('a'.repeat(257), 'channel')).toThrow(/over the limit of 256/);
  });

  it('rejects a value that is not a string', () => {
    expect(() => assertValidName(42 as unknown as string, 'channel')).toThrow(InvalidChannelError);
  });
});

describe('isWildcardPattern', () => {
  it('is true only for tokens exactly * or >', () => {
    expect(isWildcardPattern(['a', '*'])).toBe(true);
    expect(isWildcardPattern(['a', '>'])).toBe(true);
    expect(isWildcardPattern(['a', 'b*', '>c'])).toBe(false);
    expect(isWildcardPattern(['a'])).toBe(false);
  });
});
