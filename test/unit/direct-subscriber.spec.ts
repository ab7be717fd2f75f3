import { DirectSubscriber } from '../../libs/hyps-transport/src/client/direct-subscriber.js';

describe('DirectSubscriber.detachWith', () => {
  it('detaches once, on the first unsubscribe, before the teardowns added later', () => {
    const order: string[] = [];
    const subscriber = new DirectSubscriber(() => undefined);
    subscriber.detachWith({ detach: () => order.push('detach') });
    subscriber.add(() => order.push('teardown'));
    expect(order).toEqual([]);
    subscriber.unsubscribe();
    subscriber.unsubscribe();
    expect(order).toEqual(['detach', 'teardown']);
    expect(subscriber.closed).toBe(true);
  });

  it('detaches at once when the subscriber ended before it was registered', () => {
    const errors: unknown[] = [];
    const subscriber = new DirectSubscriber({ error: (error) => errors.push(error) });
    subscriber.error(new Error('refused'));
    let detached = 0;
    subscriber.detachWith({ detach: () => detached++ });
    expect(detached).toBe(1);
    expect(errors).toHaveLength(1);
    subscriber.unsubscribe();
    expect(detached).toBe(1);
  });

  it('detaches when error() or complete() ends it', () => {
    for (const end of ['error', 'complete'] as const) {
      const subscriber = new DirectSubscriber({ error: () => undefined });
      let detached = 0;
      subscriber.detachWith({ detach: () => detached++ });
      if (end === 'error') subscriber.error(new Error('x'));
      else subscriber.complete();
      expect(detached).toBe(1);
    }
  });
});
