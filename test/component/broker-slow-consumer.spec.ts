// PROTOCOL.md section 6 (slow consumers, DROPPED, answers never dropped, stalled readers) and the
// section 3 rule that a group skips members whose queue is full.
import { encodeRecord, PING_FRAME } from '../../libs/hyps-transport/src/index.js';
import { useBrokers } from './helpers/broker-fixture.js';
import { RawClient, sleep } from './helpers/raw-client.js';

const BOUND = 64 * 1024;
// maxFrameBytes may not exceed maxBufferedBytes (section 6).
const LIMITS = { maxBufferedBytes: BOUND, maxFrameBytes: 16 * 1024 };
const MESSAGE = 'x'.repeat(1000);

/**
 * Publishes `count` records of ~1 KiB on `channel`, `batch` at a time, waiting for each batch's
 * answers (and for `keepUp` to have received them, so a fast reader is never over its bound).
 * Returns the publish results in order.
 */
async function flood(
  pub: RawClient,
  channel: string,
  count: number,
  batch: number,
  keepUp: (published: number) => boolean = () => true,
): Promise<number[]> {
  const results: number[] = [];
  for (let sent = 0; sent < count; sent += batch) {
    const frames = [];
    for (let i = sent; i < Math.min(count, sent + batch); i++) {
      frames.push(encodeRecord(channel, `${String(i).padStart(6, '0')}${MESSAGE}`));
    }
    pub.send(Buffer.concat(frames));
    for (const answer of await pub.nextAnswers(frames.length, 5000)) {
      if (!answer.ok) throw new Error(`publish refused: ERR ${answer.code}`);
      results.push(answer.result);
    }
    const published = sent + frames.length;
    await pub.waitUntil(() => keepUp(published), 'the fast reader to keep up', 5000);
  }
  return results;
}

function sequence(c: RawClient, kind: 'record' | 'group_msg'): number[] {
  return c.frames
    .filter((f) => f.type === kind)
    .map((f) => Number((f as { message: Buffer }).message.subarray(0, 6).toString()));
}

function isIncreasing(list: number[]): boolean {
  return list.every((v, i) => i === 0 || v > list[i - 1]!);
}

/**
 * Sends `count` invalid publishes (channel '*') in chunks of 10,000: each earns an ERR 3 answer
 * longer than itself. Returns `count`.
 */
function sendInvalidPublishes(client: { send(data: Buffer): void }, count: number): number {
  const bad = encodeRecord('*', '');
  const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => bad));
  for (let i = 0; i < count / 10_000; i++) client.send(chunk);
  return count;
}

/** Most invalid publishes sendUntilWritesBackUp sends (28 MB). */
const MAX_STALL_COMMANDS = 4_000_000;

/**
 * Sends invalid publishes, 100,000 at a time, until the client's own writes back up: the
 * broker stopped reading from it and the kernel buffers between them are full. How much those
 * buffers take first varies with TCP autotuning, so the amount is not fixed; it is bounded.
 * Returns how many were sent (each is owed one answer).
 */
async function sendUntilWritesBackUp(client: RawClient): Promise<number> {
  let sent = 0;
  while (sent < MAX_STALL_COMMANDS) {
    sent += sendInvalidPublishes(client, 100_000);
    await sleep(20);
    if (client.socket.writableLength > 0) return sent;
  }
  throw new Error(`the client's writes did not back up after ${sent} commands`);
}

describe('broker slow consumers', () => {
  const brokers = useBrokers();

  it('drops for a subscriber that stops reading, not for the publisher or a fast subscriber', async () => {
    const b = await brokers.start({ ...LIMITS });
    const slow = await b.client();
    const fast = await b.client();
    const pub = await b.client();
    slow.sub('flood');
    fast.sub('flood');
    await Promise.all([slow.nextAnswers(1), fast.nextAnswers(1)]);
    slow.pause();

    const count = 12_000; // ~12 MB: well past the socket buffers of the paused reader
    const results = await flood(pub, 'flood', count, 16, (n) => fast.recordCount >= n);
    expect(fast.recordCount).toBe(count);
    expect(fast.droppedTotal).toBe(0);
    expect(isIncreasing(sequence(fast, 'record'))).toBe(true);

    // the paused subscriber also sent commands meanwhile: their answers must not be dropped
    slow.send(PING_FRAME, PING_FRAME, PING_FRAME);
    await sleep(50);
    slow.resume();
    await slow.waitUntil(
      () => slow.recordCount + slow.droppedTotal === count,
      'received + dropped to add up to the published count',
      5000,
    );
    expect(slow.droppedTotal).toBeGreaterThan(0);
    expect(slow.frames.some((f) => f.type === 'dropped')).toBe(true);
    expect(isIncreasing(sequence(slow, 'record'))).toBe(true);
    expect(await slow.nextAnswerSummary(3)).toEqual([0, 0, 0]);
    // each publish's result counts the deliveries made, not the dropped ones
    expect(results.reduce((n, r) => n + r, 0)).toBe(count + slow.recordCount);
  });

  it('sends DROPPED once the queue has emptied, after the records queued before it', async () => {
    const b = await brokers.start({ ...LIMITS });
    const slow = await b.client();
    const pub = await b.client();
    slow.sub('drop.order');
    await slow.nextAnswers(1);
    slow.pause();
    const count = 8_000;
    await flood(pub, 'drop.order', count, 32);
    slow.resume();
    await slow.waitUntil(
      () => slow.recordCount + slow.droppedTotal === count,
      'all accounted',
      5000,
    );
    // The flood ended while this reader was full, so the last deliveries were dropped; DROPPED
    // waits for the queue to empty, so it comes after every record queued before it.
    await slow.staysOpenFor(100);
    expect(slow.frames[slow.frames.length - 1]!.type).toBe('dropped');
    expect(slow.frames.findIndex((f) => f.type === 'dropped')).toBeGreaterThan(
      slow.frames.findIndex((f) => f.type === 'record'),
    );
  });

  it('skips a full group member and gives the record to another member instead', async () => {
    const b = await brokers.start({ ...LIMITS });
    const stuck = await b.client();
    const fast = await b.client();
    stuck.sub('work', 'g');
    fast.sub('work', 'g');
    await Promise.all([stuck.nextAnswers(1), fast.nextAnswers(1)]);
    stuck.pause();
    const pub = await b.client();
    const count = 10_000;
    const results = await flood(pub, 'work', count, 16);
    expect(results.every((r) => r === 1)).toBe(true);
    stuck.resume();
    await fast.waitUntil(
      () => fast.groupMsgCount + stuck.groupMsgCount === count,
      'every record delivered to one member',
      5000,
    );
    expect(stuck.droppedTotal + fast.droppedTotal).toBe(0);
    const all = [...sequence(stuck, 'group_msg'), ...sequence(fast, 'group_msg')];
    expect(all.sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(stuck.groupMsgCount).toBeGreaterThan(0);
  });

  it('drops for the member whose turn it was when every member is full', async () => {
    const b = await brokers.start({ ...LIMITS });
    const only = await b.client();
    only.sub('full', 'g');
    await only.nextAnswers(1);
    only.pause();
    const pub = await b.client();
    const count = 8_000;
    const results = await flood(pub, 'full', count, 32);
    only.resume();
    await only.waitUntil(
      () => only.groupMsgCount + only.droppedTotal === count,
      'all accounted',
      5000,
    );
    expect(only.droppedTotal).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r, 0)).toBe(only.groupMsgCount);
  });

  it('stalls only a client that sends commands but never reads, and answers all of them later', async () => {
    const b = await brokers.start({ ...LIMITS });
    const staller = await b.client();
    staller.pause();
    // Invalid publishes: each small frame earns a longer ERR 3 answer, so the answers pile up
    // past the socket buffers and the bound, and the broker must stop reading from this client:
    // the staller's own writes then stay queued on its side.
    const commands = await sendUntilWritesBackUp(staller);

    const sub = await b.client();
    const pub = await b.client();
    sub.sub('others');
    await sub.nextAnswers(1);
    const results = await flood(pub, 'others', 2000, 50, (n) => sub.recordCount >= n);
    expect(results.every((r) => r === 1)).toBe(true);

    await sleep(200);
    expect(staller.socket.writableLength).toBeGreaterThan(0);
    expect(staller.isClosed).toBe(false);

    staller.resume();
    const answers = await staller.nextAnswers(commands, 20_000);
    expect(answers.every((a) => !a.ok && a.code === 3)).toBe(true);
    staller.send(PING_FRAME);
    expect(await staller.nextAnswerSummary(1)).toEqual([0]);
  });

  it('suspends the keepalive and frame timers while it is not reading from a connection', async () => {
    // Timer values leave room for a loaded machine; the stall below lasts several of each.
    const b = await brokers.start({ ...LIMITS, pingIntervalMs: 250, frameTimeoutMs: 400 });
    const staller = await b.client();
    staller.pause();
    const commands = await sendUntilWritesBackUp(staller);
    // A marker command, split: the broker can only read it after this client resumes reading.
    staller.send(PING_FRAME.subarray(0, 2));
    await sleep(1500); // 6 ping intervals, nearly 4 frame timeouts, with the broker not reading
    staller.send(PING_FRAME.subarray(2));
    staller.resume();
    // Had the timers run during the stall, the broker would have closed this connection with
    // ERR 7 before reading the marker. Until it reads the marker it reads commands without pause,
    // each of which answers its PINGs; what happens after the marker is not this test's concern.
    const answers = await staller.nextAnswers(commands + 1, 20_000);
    expect(answers.slice(0, commands).every((a) => !a.ok && a.code === 3)).toBe(true);
    expect(answers[commands]).toEqual({ ok: true, result: 0 });
  });
});
