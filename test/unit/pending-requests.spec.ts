import { PendingRequests } from '../../libs/hyps-transport/src/nest/pending-requests.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const noop = (): void => undefined;

describe('PendingRequests', () => {
  it('times a request out after its timeout, within the sweep interval', async () => {
    const timedOut: Array<{ id: string; after: number }> = [];
    const started = Date.now();
    const pending = new PendingRequests(80, (id) => {
      timedOut.push({ id, after: Date.now() - started });
      pending.take(id);
    });
    pending.add('a', 'orders.get', noop);
    await sleep(40);
    expect(timedOut).toEqual([]);
    await sleep(120);
    expect(timedOut.map((entry) => entry.id)).toEqual(['a']);
    // 80 ms plus at most one sweep interval (10 ms) and timer slack.
    expect(timedOut[0]!.after).toBeGreaterThanOrEqual(80);
    expect(pending.size).toBe(0);
  });

  it('gives a request a whole timeout again on each reply (streamed responses)', async () => {
    const timedOut: string[] = [];
    const pending = new PendingRequests(80, (id) => {
      timedOut.push(id);
      pending.take(id);
    });
    pending.add('s', 'feed.watch', noop);
    for (let i = 0; i < 4; i++) {
      await sleep(50);
      pending.extend(pending.get('s')!);
    }
    // 200 ms in all, more than two timeouts, but never 80 ms without a reply.
    expect(timedOut).toEqual([]);
    expect(pending.take('s')?.channel).toBe('feed.watch');
  });

  it('forgets taken requests: they never time out', async () => {
    const timedOut: string[] = [];
    const pending = new PendingRequests(30, (id) => timedOut.push(id));
    pending.add('x', 'a', noop);
    pending.add('y', 'b', noop);
    expect(pending.take('x')?.channel).toBe('a');
    expect(pending.take('x')).toBeUndefined();
    expect(pending.take('y')?.channel).toBe('b');
    await sleep(80);
    expect(timedOut).toEqual([]);
    expect(pending.all()).toEqual([]);
  });
});
