import { ConcordError } from '@concord/core';
import { expect, it } from 'vitest';
import { DLQ_HEADERS, dlqTopic } from '../port.js';
import type { IncomingMessage } from '../port.js';
import type { ContractRun } from './context.js';
import { collector, message, publishAll, readText, waitFor } from './helpers.js';

const fastRetry = { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 40 };

/** Redelivery, dead letters, poison messages. */
export const failureContract = (run: ContractRun): void => {
  it('redelivers a failing message, then succeeds', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('retry');
    const attempts: number[] = [];
    let handled = false;
    const handler = (m: IncomingMessage): Promise<void> => {
      attempts.push(m.attempt);
      if (m.attempt < 3)
        return Promise.reject(new ConcordError('CONTRACT_FLAKY', 'not yet', { retryable: true }));
      handled = true;
      return Promise.resolve();
    };
    await bus.subscribe({
      group: run.group('g'),
      topics: [topic],
      handler,
      retry: { ...fastRetry, maxAttempts: 5 },
    });
    await bus.publish(topic, [message('r-1', 'k')]);
    await waitFor('success on the third attempt', () => handled, run.deliveryTimeoutMs);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it(
    'dead-letters after the last attempt with code, reason and attempts',
    { timeout: run.testTimeoutMs },
    async () => {
      const bus = await run.bus();
      const topic = run.topic('dlq');
      const group = run.group('g');
      const dead = collector();
      await bus.subscribe({ group: run.group('dlq'), topics: [dlqTopic(topic)], handler: dead.handler });
      const attempts: number[] = [];
      const handler = (m: IncomingMessage): Promise<void> => {
        attempts.push(m.attempt);
        return Promise.reject(new ConcordError('CONTRACT_FLAKY', 'downstream is flaky', { retryable: true }));
      };
      await bus.subscribe({ group, topics: [topic], handler, retry: fastRetry });
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await bus.publish(topic, [message('d-1', 'k-1', 'payload', { traceparent })]);
      await waitFor('the dead letter', () => dead.received.length >= 1, run.deliveryTimeoutMs);
      expect(attempts).toEqual([1, 2, 3]);
      const letter = dead.received[0];
      expect(letter).toMatchObject({ id: 'd-1', key: 'k-1', topic: dlqTopic(topic) });
      expect(readText(letter?.payload ?? new Uint8Array())).toBe('payload');
      expect(letter?.headers).toMatchObject({
        traceparent,
        [DLQ_HEADERS.errorCode]: 'CONTRACT_FLAKY',
        [DLQ_HEADERS.reason]: 'downstream is flaky',
        [DLQ_HEADERS.attempts]: '3',
        [DLQ_HEADERS.originalTopic]: topic,
        [DLQ_HEADERS.group]: group,
      });
    },
  );

  it('dead-letters a non-retryable failure at once', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('fatal');
    const dead = collector();
    await bus.subscribe({ group: run.group('dlq'), topics: [dlqTopic(topic)], handler: dead.handler });
    const attempts: number[] = [];
    const handler = (m: IncomingMessage): Promise<void> => {
      attempts.push(m.attempt);
      return Promise.reject(new ConcordError('CONTRACT_INVALID', 'cannot ever work', { retryable: false }));
    };
    await bus.subscribe({ group: run.group('g'), topics: [topic], handler, retry: fastRetry });
    await bus.publish(topic, [message('x-1', 'k')]);
    await waitFor('the dead letter', () => dead.received.length >= 1, run.deliveryTimeoutMs);
    expect(attempts).toEqual([1]);
    expect(dead.received[0]?.headers).toMatchObject({
      [DLQ_HEADERS.errorCode]: 'CONTRACT_INVALID',
      [DLQ_HEADERS.attempts]: '1',
    });
  });

  it('keeps other keys flowing while a poison message retries', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('poison');
    const dead = collector();
    await bus.subscribe({ group: run.group('dlq'), topics: [dlqTopic(topic)], handler: dead.handler });
    const others = Array.from({ length: 30 }, (_, i) => message(`o-${i}`, `other-${i % 10}`));
    const handled = new Set<string>();
    let othersDoneBeforePoisonGaveUp = false;
    const handler = async (m: IncomingMessage): Promise<void> => {
      if (m.key !== 'poison') {
        handled.add(m.id);
        return;
      }
      if (m.attempt === fastRetry.maxAttempts) {
        // Holds the poison key's slot until the other keys got through (or fails the test by timing out).
        await waitFor(
          'other keys past the poison',
          () => handled.size >= others.length,
          run.deliveryTimeoutMs,
        );
        othersDoneBeforePoisonGaveUp = true;
      }
      throw new Error('poison');
    };
    await bus.subscribe({
      group: run.group('g'),
      topics: [topic],
      handler,
      concurrency: 4,
      retry: fastRetry,
    });
    await bus.publish(topic, [message('p-1', 'poison')]);
    await publishAll(bus, topic, others, 10);
    await waitFor('the poison dead letter', () => dead.received.length >= 1, run.deliveryTimeoutMs * 2);
    expect(othersDoneBeforePoisonGaveUp).toBe(true);
    expect(handled.size).toBe(others.length);
    expect(dead.received[0]).toMatchObject({ id: 'p-1', key: 'poison' });
    expect(dead.received[0]?.headers[DLQ_HEADERS.errorCode]).toBe('CONCORD_INTERNAL');
  });
};
