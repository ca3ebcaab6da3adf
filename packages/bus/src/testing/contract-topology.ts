import { ConcordError } from '@concord/core';
import { expect, it } from 'vitest';
import { dlqTopic } from '../port.js';
import type { IncomingMessage } from '../port.js';
import type { ContractRun } from './context.js';
import { collector, message, waitFor } from './helpers.js';

/**
 * Declared topology (DESIGN §4): what is published to a declared group waits for its first consumer,
 * a topic nobody reads refuses messages where the adapter can tell, dead letters of every depth have a
 * queue.
 */
export const topologyContract = (run: ContractRun): void => {
  const { features } = run.options;

  it(
    'keeps what is published after declare for groups that have not subscribed yet',
    { timeout: run.testTimeoutMs },
    async () => {
      const [producer, consumer] = [await run.bus(), await run.bus()];
      const topic = run.topic('declared');
      const [first, second] = [run.group('one'), run.group('two')];
      await producer.declare([{ topic, groups: [first, second] }]);
      await producer.declare([{ topic, groups: [first, second] }]); // idempotent
      await producer.publish(topic, [message('d-1', 'k'), message('d-2', 'k')]);
      const one = collector();
      const two = collector();
      await consumer.subscribe({ group: first, topics: [topic], handler: one.handler });
      await consumer.subscribe({ group: second, topics: [topic], handler: two.handler });
      await waitFor(
        'both groups',
        () => one.received.length >= 2 && two.received.length >= 2,
        run.deliveryTimeoutMs,
      );
      expect(one.ids()).toEqual(['d-1', 'd-2']);
      expect(two.ids()).toEqual(['d-1', 'd-2']);
    },
  );

  if (features.refusesUnroutable) {
    it(
      'refuses a publish to a topic no declared group reads, retryably, and takes it once declared',
      { timeout: run.testTimeoutMs },
      async () => {
        const bus = await run.bus();
        const topic = run.topic('unroutable');
        const group = run.group('late');
        const refused: unknown = await bus.publish(topic, [message('u-1', 'k')]).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(ConcordError);
        expect(refused).toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE', retryable: true });
        await bus.declare([{ topic, groups: [group] }]);
        await bus.publish(topic, [message('u-1', 'k')]); // the publisher's retry
        const sink = collector();
        await bus.subscribe({ group, topics: [topic], handler: sink.handler });
        await waitFor('the retried message', () => sink.received.length >= 1, run.deliveryTimeoutMs);
        expect(sink.ids()).toEqual(['u-1']);
      },
    );
  }

  it(
    "keeps a dead-letter reader's own dead letters on <topic>.dlq.dlq",
    { timeout: run.testTimeoutMs },
    async () => {
      const bus = await run.bus();
      const topic = run.topic('deeper');
      const reader = run.group('reader');
      await bus.declare([{ topic, groups: [run.group('g')] }]);
      const attempts: number[] = [];
      const failing = (m: IncomingMessage): Promise<void> => {
        attempts.push(m.attempt);
        return Promise.reject(new ConcordError('CONTRACT_INVALID', 'cannot ever work', { retryable: false }));
      };
      const reading = await bus.subscribe({ group: reader, topics: [dlqTopic(topic)], handler: failing });
      await bus.publish(dlqTopic(topic), [message('l-1', 'k')]);
      await waitFor('the dead-letter reader to give up', () => attempts.length >= 1, run.deliveryTimeoutMs);
      // Its dead letter is published while it closes (draining), before anyone reads `<topic>.dlq.dlq`:
      // the group's queue there exists since it subscribed to `<topic>.dlq`.
      await reading.close();
      const deeper = collector();
      await bus.subscribe({ group: reader, topics: [dlqTopic(dlqTopic(topic))], handler: deeper.handler });
      await waitFor('its dead letter', () => deeper.received.length >= 1, run.deliveryTimeoutMs);
      expect(deeper.received[0]).toMatchObject({ id: 'l-1', topic: dlqTopic(dlqTopic(topic)) });
    },
  );
};
