// Floods beyond the broker's limits (issue 6, item 3): connections beyond maxConnections are
// refused with ERR 10; subscriptions beyond maxSubscriptions get ERR 6 and nothing else is hurt.
// A canary client keeps publishing and receiving throughout.
import {
  encodeRecord,
  encodeSub,
  encodeUnsub,
  PING_FRAME,
} from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from '../component/helpers/broker-fixture.js';
import { waitFor } from './helpers/bounded.js';
import { Canary, expectHealthyCanary } from './helpers/canary.js';

describe('connection flood beyond maxConnections', () => {
  const brokers = useBrokers();
  let canary: Canary | undefined;
  afterEach(async () => {
    await canary?.stop();
    canary = undefined;
  });

  it('refuses each extra connection with ERR 10 instead of INFO, and keeps serving the rest', async () => {
    const MAX = 40;
    const EXTRA = 150;
    const b = await brokers.start({ maxConnections: MAX });
    canary = await Canary.start({ port: b.port });
    const held = await Promise.all(Array.from({ length: MAX - 1 }, () => b.client()));
    expect(b.broker.stats().connections).toBe(MAX);

    // The flood: all at once.
    const refused = await Promise.all(Array.from({ length: EXTRA }, () => b.connect()));
    await Promise.all(refused.map((c) => c.fatal(10, 5_000)));
    for (const c of refused) {
      // ERR 10 is sent instead of INFO: it is the one and only frame.
      expect(c.types()).toEqual(['err10']);
    }
    expect(b.broker.stats().connections).toBe(MAX);
    await canary.proveAlive();

    // Every connection held through the flood still answers.
    for (const c of held) c.ping();
    await Promise.all(held.map((c) => c.nextAnswerSummary(1))).then((answers) =>
      expect(answers.flat()).toEqual(held.map(() => 0)),
    );

    // Freed slots are usable again, and only those.
    for (const c of held.slice(0, 5)) c.destroy();
    await waitFor(() => b.broker.stats().connections === MAX - 5, 5_000, 'five slots to free up');
    const again = await Promise.all(Array.from({ length: 5 }, () => b.client()));
    expect(again).toHaveLength(5);
    const oneTooMany = await b.connect();
    await oneTooMany.fatal(10);

    await canary.proveAlive();
    expectHealthyCanary(await canary.stop());
    canary = undefined;
  });
});

describe('connection counters under a flood', () => {
  const brokers = useBrokers();

  it('counts accepted and refused connections, and the ERR 10s sent (for the metrics)', async () => {
    const b = await brokers.start({ maxConnections: 3 });
    const held = await Promise.all(Array.from({ length: 3 }, () => b.client()));
    const refused = await Promise.all(Array.from({ length: 7 }, () => b.connect()));
    await Promise.all(refused.map((c) => c.fatal(10, 5_000)));
    held[0]!.destroy();
    await waitFor(() => b.broker.stats().connections === 2, 5_000, 'a slot to free up');
    await b.client();
    const stats = b.broker.stats();
    expect({
      accepted: stats.connectionsAccepted,
      rejected: stats.connectionsRejected,
      err10: stats.errors[10],
    }).toEqual({ accepted: 4, rejected: 7, err10: 7 });
  });
});

describe('subscription explosion beyond maxSubscriptions', () => {
  const brokers = useBrokers();
  let canary: Canary | undefined;
  afterEach(async () => {
    await canary?.stop();
    canary = undefined;
  });

  it('answers ERR 6 past the limit, per connection, and hurts nothing else', async () => {
    const MAX = 1_000;
    const ATTEMPTS = 3_000;
    const EXPLODERS = 4;
    const b = await brokers.start({ maxSubscriptions: MAX });
    canary = await Canary.start({ port: b.port });
    const neighbour = await b.client();
    neighbour.send(...Array.from({ length: 10 }, (_, i) => encodeSub(`n.${i}.>`)));
    expect(await neighbour.nextAnswerSummary(10)).toEqual(Array(10).fill(0));

    const exploders = await Promise.all(Array.from({ length: EXPLODERS }, () => b.client()));
    // Each pipelines 3,000 SUBs in one write: exact channels and wildcard patterns alternating,
    // every tenth a repeat of the one before (idempotent: OK without using a slot).
    const subsOf = (e: number): string[] =>
      Array.from({ length: ATTEMPTS }, (_, i) => {
        const n = i % 10 === 9 ? i - 1 : i;
        return n % 2 === 0 ? `x.${e}.${n}` : `x.${e}.${n}.*`;
      });
    exploders.forEach((c, e) => c.send(...subsOf(e).map((s) => encodeSub(s))));
    const answers = await Promise.all(exploders.map((c) => c.nextAnswerSummary(ATTEMPTS, 10_000)));
    for (const [e, got] of answers.entries()) {
      // Walk the same list: a new subscription takes a slot while there is one, else ERR 6;
      // a repeat of one held is OK.
      const held = new Set<string>();
      const expected = subsOf(e).map((s) => {
        if (held.has(s)) return 0;
        if (held.size >= MAX) return 'ERR 6';
        held.add(s);
        return 0;
      });
      expect(got).toEqual(expected);
      expect(got.filter((a) => a === 'ERR 6').length).toBeGreaterThan(1_500);
    }
    await canary.proveAlive();
    const stats = b.broker.stats();
    expect(stats.subscriptions).toBe(EXPLODERS * MAX + 10 + 1);
    expect(stats.errors[6]).toBeGreaterThan(EXPLODERS * 1_500);

    // ERR 6 is not fatal: an exploder still publishes and receives on what it holds, and can
    // trade a subscription for another.
    const first = exploders[0]!;
    first.send(
      encodeRecord('x.0.0', 'held'),
      encodeRecord('x.0.1.deep', 'held by a wildcard'),
      encodeSub('x.0.new'),
      encodeSub('x.0.2'),
    );
    expect(await first.nextAnswerSummary(4)).toEqual([1, 1, 'ERR 6', 0]);
    await first.waitRecords(2);
    first.send(encodeUnsub('x.0.0'), encodeSub('x.0.new'), encodeRecord('x.0.new', 'traded'));
    expect(await first.nextAnswerSummary(3)).toEqual([0, 0, 1]);
    await first.waitRecords(3);
    expect(first.records().map((r) => r.message.toString())).toEqual([
      'held',
      'held by a wildcard',
      'traded',
    ]);

    // The neighbour's own limit is untouched by the others'.
    neighbour.send(...Array.from({ length: 20 }, (_, i) => encodeSub(`more.${i}`)), PING_FRAME);
    expect(await neighbour.nextAnswerSummary(21)).toEqual(Array(21).fill(0));

    // Closing the exploders frees every one of their subscriptions.
    for (const c of exploders) c.destroy();
    await waitFor(() => b.broker.stats().connections === 2, 5_000, 'exploders to be gone');
    expect(b.broker.stats().subscriptions).toBe(10 + 20 + 1);
    await canary.proveAlive();
    expectHealthyCanary(await canary.stop());
    canary = undefined;
  });
});
