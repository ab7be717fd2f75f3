import { RoutingTable } from '../../libs/hyps-transport/src/broker/routing-table.js';

/** The route of `channel` as plain owners and group -> members, read through a fresh cache id. */
function routeOf(table: RoutingTable<string>, channel: string) {
  const route = table.routeOf(table.route(channel));
  return {
    plain: [...route.plain].sort(),
    groups: Object.fromEntries(
      route.groups.map((group) => [group.state.name, [...group.members].sort()]),
    ),
  };
}

describe('RoutingTable, exact channels', () => {
  it('routes to every owner of a channel as subscriptions come and go, one by one', () => {
    const table = new RoutingTable<string>();
    const a = table.add('conn-a', 'user.1', null);
    expect(routeOf(table, 'user.1')).toEqual({ plain: ['conn-a'], groups: {} });
    const b = table.add('conn-b', 'user.1', null);
    const g = table.add('conn-c', 'user.1', 'workers');
    expect(routeOf(table, 'user.1')).toEqual({
      plain: ['conn-a', 'conn-b'],
      groups: { workers: ['conn-c'] },
    });
    table.remove(a);
    table.remove(a); // a second remove of the same subscription changes nothing
    expect(table.size).toBe(2);
    expect(routeOf(table, 'user.1')).toEqual({
      plain: ['conn-b'],
      groups: { workers: ['conn-c'] },
    });
    table.remove(g);
    expect(routeOf(table, 'user.1')).toEqual({ plain: ['conn-b'], groups: {} });
    table.remove(b);
    expect(table.size).toBe(0);
    expect(routeOf(table, 'user.1')).toEqual({ plain: [], groups: {} });
  });

  it('keeps exact and wildcard subscriptions apart, and a name with * inside a token exact', () => {
    const table = new RoutingTable<string>();
    table.add('conn-exact', 'a.b*', null);
    const wildcard = table.add('conn-wild', 'a.*', null);
    expect(table.wildcardCount).toBe(1);
    expect(routeOf(table, 'a.b*').plain).toEqual(['conn-exact', 'conn-wild']);
    expect(routeOf(table, 'a.bc').plain).toEqual(['conn-wild']);
    table.remove(wildcard);
    expect(table.wildcardCount).toBe(0);
    expect(routeOf(table, 'a.b*').plain).toEqual(['conn-exact']);
  });

  it("names a route's only receiver while it has one plain connection and no group", () => {
    const table = new RoutingTable<string>();
    const sole = (channel: string): string | undefined =>
      table.soleReceiverOf(table.route(channel));
    expect(sole('user.1')).toBeUndefined();
    const a = table.add('conn-a', 'user.1', null);
    expect(sole('user.1')).toBe('conn-a');
    // A second subscription of the same connection still makes one receiver.
    const again = table.add('conn-a', 'user.>', null);
    expect(sole('user.1')).toBe('conn-a');
    table.remove(again);
    const b = table.add('conn-b', 'user.1', null);
    expect(sole('user.1')).toBeUndefined();
    table.remove(b);
    expect(sole('user.1')).toBe('conn-a');
    const g = table.add('conn-g', 'user.1', 'workers');
    expect(sole('user.1')).toBeUndefined();
    table.remove(g);
    table.remove(a);
    expect(sole('user.1')).toBeUndefined();
    // A cache id reused for another channel does not keep the old receiver.
    table.add('conn-c', 'other', null);
    expect(sole('other')).toBe('conn-c');
  });
});
