import fc from 'fast-check';
import { encodeEventPacket, encodePacket } from '../../libs/hyps-transport/src/nest/packet.js';

describe('encodeEventPacket', () => {
  it('makes exactly the text encodePacket makes of { pattern, data }', () => {
    fc.assert(
      fc.property(fc.string(), fc.anything(), (pattern, data) => {
        expect(encodeEventPacket(pattern, data)).toBe(encodePacket({ pattern, data }));
      }),
      { numRuns: 500 },
    );
  });

  it('handles data that JSON drops, and patterns needing escapes', () => {
    for (const data of [undefined, () => 1, Symbol('s')]) {
      expect(encodeEventPacket('a.b', data)).toBe('{"pattern":"a.b"}');
    }
    expect(encodeEventPacket('quote"d\\\n', 1)).toBe(
      encodePacket({ pattern: 'quote"d\\\n', data: 1 }),
    );
    const withToJson = { toJSON: () => ({ shown: true }) };
    expect(JSON.parse(encodeEventPacket('p', withToJson))).toEqual({
      pattern: 'p',
      data: { shown: true },
    });
  });

  it('stays correct past its cache bound', () => {
    for (let i = 0; i < 3000; i++) {
      const pattern = `p.${i % 1500}`;
      expect(encodeEventPacket(pattern, i)).toBe(`{"pattern":"${pattern}","data":${i}}`);
    }
  });
});
