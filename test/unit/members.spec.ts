import fc from 'fast-check';
import {
  hasMember,
  memberArray,
  soleMember,
  withMember,
  withoutMember,
  type Members,
} from '../../libs/hyps-transport/src/protocol/members.js';

interface Item {
  readonly id: number;
}

describe('members (one item, or a Set from the second on)', () => {
  it('keeps a lone member as itself and turns into a Set at the second', () => {
    const a = { id: 1 };
    const b = { id: 2 };
    let members: Members<Item> | undefined = withMember(undefined, a);
    expect(members).toBe(a);
    expect(withMember(members, a)).toBe(a);
    members = withMember(members, b);
    expect(members).toBeInstanceOf(Set);
    expect(soleMember(members)).toBeUndefined();
    members = withoutMember(members, a);
    expect(members).toBe(b);
    expect(soleMember(members)).toBe(b);
    expect(withoutMember(members, a)).toBe(b);
    expect(withoutMember(members, b)).toBeUndefined();
  });

  it('behaves like a Set, in insertion order, over any sequence of adds and removes', () => {
    const items = Array.from({ length: 6 }, (_, id) => ({ id }));
    const operation = fc.record({ add: fc.boolean(), item: fc.integer({ min: 0, max: 5 }) });
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const model = new Set<Item>();
        let members: Members<Item> | undefined;
        for (const { add, item } of operations) {
          const target = items[item]!;
          if (add) {
            model.add(target);
            members = withMember(members, target);
          } else {
            model.delete(target);
            members = withoutMember(members, target);
          }
          expect(memberArray(members)).toEqual([...model]);
          for (const candidate of items) {
            expect(hasMember(members, candidate)).toBe(model.has(candidate));
          }
          expect(members === undefined).toBe(model.size === 0);
          expect(members instanceof Set).toBe(model.size > 1);
          expect(soleMember(members)).toBe(model.size === 1 ? [...model][0] : undefined);
        }
      }),
    );
  });
});
