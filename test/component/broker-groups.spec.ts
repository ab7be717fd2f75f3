// PROTOCOL.md section 1 (GROUP_MSG) and section 3 (one member per group per record, fair rotation).
import { encodeGroupMsg, encodeRecord } from '../../libs/hyps-transport/src/index.js';
import { useBrokers, type RunningBroker } from './helpers/broker-fixture.js';
import { until, type RawClient } from './helpers/raw-client.js';

async function members(
  b: RunningBroker,
  n: number,
  pattern: string,
  group: string,
): Promise<RawClient[]> {
  const list: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await b.client();
    c.sub(pattern, group);
    expect(await c.nextAnswerSummary(1)).toEqual([0]);
    list.push(c);
  }
  return list;
}

function totalGroupMsgs(clients: RawClient[]): number {
  return clients.reduce((n, c) => n + c.groupMsgCount, 0);
}

describe('broker groups', () => {
  const brokers = useBrokers();

  it('delivers GROUP_MSG as group 0x0A channel 0x0A message 0x0A around the publisher’s record body', async () => {
    const b = await brokers.start();
    const [member] = await members(b, 1, 'orders.*', 'billing');
    const pub = await b.client();
    const record = encodeRecord('orders.eu', 'pay\nnow');
    pub.send(record);
    expect(await pub.nextAnswerSummary(1)).toEqual([1]);
    await member!.waitGroupMsgs(1);
    const msg = member!.groupMsgs()[0]!;
    expect(msg.raw.equals(encodeGroupMsg('billing', 'orders.eu', 'pay\nnow'))).toBe(true);
    expect(msg.raw.subarray(4 + 1 + 'billing\n'.length).equals(record.subarray(4))).toBe(true);
    expect([msg.group, msg.channel, msg.message.toString()]).toEqual([
      'billing',
      'orders.eu',
      'pay\nnow',
    ]);
    expect(member!.recordCount).toBe(0);
  });

  it('gives each record to exactly one member, rotating fairly over 3 connections', async () => {
    const b = await brokers.start();
    const group = await members(b, 3, 'jobs.>', 'workers');
    const pub = await b.client();
    const count = 30;
    for (let i = 0; i < count; i++) pub.publish('jobs.run', `${i}`);
    expect(await pub.nextAnswerSummary(count)).toEqual(Array.from({ length: count }, () => 1));
    await pub.waitUntil(() => totalGroupMsgs(group) === count, `${count} GROUP_MSGs`);
    await group[0]!.staysOpenFor(100);
    expect(totalGroupMsgs(group)).toBe(count);
    const seen = group.flatMap((m) => m.groupMsgs().map((g) => Number(g.message.toString())));
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i));
    const counts = group.map((m) => m.groupMsgCount);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    for (const m of group) expect(m.recordCount).toBe(0);
  });

  it('forms a group by name across different patterns', async () => {
    const b = await brokers.start();
    const [wide] = await members(b, 1, 'orders.*', 'g');
    const [narrow] = await members(b, 1, 'orders.eu', 'g');
    const pub = await b.client();
    for (let i = 0; i < 10; i++) pub.publish('orders.eu', `eu${i}`);
    for (let i = 0; i < 4; i++) pub.publish('orders.us', `us${i}`);
    expect(await pub.nextAnswerSummary(14)).toEqual(Array.from({ length: 14 }, () => 1));
    await pub.waitUntil(() => wide!.groupMsgCount + narrow!.groupMsgCount === 14, '14 GROUP_MSGs');
    expect(narrow!.groupMsgs().every((m) => m.channel === 'orders.eu')).toBe(true);
    const eu = [wide!, narrow!].map(
      (m) => m.groupMsgs().filter((g) => g.channel === 'orders.eu').length,
    );
    expect(eu[0]! + eu[1]!).toBe(10);
    expect(Math.abs(eu[0]! - eu[1]!)).toBeLessThanOrEqual(1);
  });

  it('sends one GROUP_MSG to a member holding several matching subscriptions in the group', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.sub('multi.*', 'g');
    c.sub('multi.>', 'g');
    c.sub('multi.x', 'g');
    await c.nextAnswers(3);
    const pub = await b.client();
    pub.publish('multi.x', 'once');
    expect(await pub.nextAnswerSummary(1)).toEqual([1]);
    await c.waitGroupMsgs(1);
    await c.staysOpenFor(100);
    expect(c.groupMsgCount).toBe(1);
  });

  it('gives a connection one plain delivery plus one GROUP_MSG when it holds both', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.sub('both.x');
    c.sub('both.*', 'g');
    await c.nextAnswers(2);
    const pub = await b.client();
    pub.publish('both.x', 'm');
    expect(await pub.nextAnswerSummary(1)).toEqual([2]);
    await c.waitRecords(1);
    await c.waitGroupMsgs(1);
    await c.staysOpenFor(100);
    expect([c.recordCount, c.groupMsgCount]).toEqual([1, 1]);
  });

  it('chooses one member in each of two groups', async () => {
    const b = await brokers.start();
    const g1 = await members(b, 2, 'two.>', 'g1');
    const g2 = await members(b, 2, 'two.x', 'g2');
    const pub = await b.client();
    for (let i = 0; i < 10; i++) pub.publish('two.x', `${i}`);
    expect(await pub.nextAnswerSummary(10)).toEqual(Array.from({ length: 10 }, () => 2));
    await pub.waitUntil(() => totalGroupMsgs([...g1, ...g2]) === 20, '20 GROUP_MSGs');
    for (const [name, list] of [
      ['g1', g1],
      ['g2', g2],
    ] as const) {
      const msgs = list.flatMap((m) => m.groupMsgs());
      expect(msgs.every((m) => m.group === name)).toBe(true);
      expect(msgs.map((m) => Number(m.message.toString())).sort((x, y) => x - y)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    }
  });

  it('sends one GROUP_MSG per group to a connection that is in two groups', async () => {
    const b = await brokers.start();
    const c = await b.client();
    c.sub('dual.x', 'g1');
    c.sub('dual.x', 'g2');
    await c.nextAnswers(2);
    const pub = await b.client();
    pub.publish('dual.x', 'm');
    expect(await pub.nextAnswerSummary(1)).toEqual([2]);
    await c.waitGroupMsgs(2);
    expect(
      c
        .groupMsgs()
        .map((m) => m.group)
        .sort(),
    ).toEqual(['g1', 'g2']);
  });

  it('stops choosing a member after its UNSUB and after it disconnects', async () => {
    const b = await brokers.start();
    const [m1, m2, m3] = await members(b, 3, 'leave.x', 'g');
    m1!.unsub('leave.x', 'g');
    await m1!.nextAnswers(1);
    m2!.destroy();
    await until(() => b.broker.stats().connections === 2, 'the broker to drop the closed member');
    const pub = await b.client();
    for (let i = 0; i < 6; i++) pub.publish('leave.x', `${i}`);
    expect(await pub.nextAnswerSummary(6)).toEqual([1, 1, 1, 1, 1, 1]);
    await m3!.waitGroupMsgs(6);
    expect(m1!.groupMsgCount).toBe(0);
  });

  it('keeps publish order for the member of a one-member group', async () => {
    const b = await brokers.start();
    const [member] = await members(b, 1, 'ord.>', 'solo');
    const pub = await b.client();
    const count = 500;
    pub.send(...Array.from({ length: count }, (_, i) => encodeRecord('ord.x', `${i}`)));
    await pub.nextAnswers(count);
    await member!.waitGroupMsgs(count);
    expect(member!.groupMsgs().map((m) => Number(m.message.toString()))).toEqual(
      Array.from({ length: count }, (_, i) => i),
    );
  });
});
