// The broker remembers each connection's last published channel and its route. These tests pin
// down that the memo never outlives a change of subscriptions or a change of channel.
import { useBrokers } from './helpers/broker-fixture.js';

describe('route memo of repeated publishes', () => {
  const brokers = useBrokers();

  it('reaches a subscriber that joined between two publishes on the same channel', async () => {
    const broker = await brokers.start();
    const publisher = await broker.client();
    const early = await broker.client();
    early.sub('memo.a');
    expect(await early.nextAnswerSummary(1)).toEqual([0]);

    publisher.publish('memo.a', 'one');
    expect(await publisher.nextAnswerSummary(1)).toEqual([1]);

    const late = await broker.client();
    late.sub('memo.a');
    expect(await late.nextAnswerSummary(1)).toEqual([0]);
    publisher.publish('memo.a', 'two');
    expect(await publisher.nextAnswerSummary(1)).toEqual([2]);
    await late.waitRecords(1);
    expect(late.records().map((r) => r.message.toString())).toEqual(['two']);

    early.unsub('memo.a');
    expect(await early.nextAnswerSummary(1)).toEqual([0]);
    publisher.publish('memo.a', 'three');
    expect(await publisher.nextAnswerSummary(1)).toEqual([1]);
  });

  it('does not reuse a route for a different channel of the same length', async () => {
    const broker = await brokers.start();
    const publisher = await broker.client();
    const subscriber = await broker.client();
    subscriber.sub('memo.a');
    expect(await subscriber.nextAnswerSummary(1)).toEqual([0]);
    publisher.publish('memo.a', '1');
    publisher.publish('memo.b', '2');
    publisher.publish('memo.a', '3');
    expect(await publisher.nextAnswerSummary(3)).toEqual([1, 0, 1]);
    await subscriber.waitRecords(2);
    expect(subscriber.records().map((r) => r.message.toString())).toEqual(['1', '3']);
  });
});
