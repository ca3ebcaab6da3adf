import { ConcordError } from '@concord/core';
import { expect, it } from 'vitest';
import type { MessageBus } from '../port.js';
import type { ContractRun } from './context.js';
import { collector, delay, gate, message, waitFor } from './helpers.js';

const expectBusError = async (work: Promise<unknown>, code: string): Promise<void> => {
  const error: unknown = await work.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(ConcordError);
  expect(error).toMatchObject({ code, retryable: false });
};

/** close(), bad input, and (when the adapter can restart its broker) durability across a restart. */
export const lifecycleContract = (run: ContractRun): void => {
  it('close() waits for in-flight handlers', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('drain');
    let started = false;
    let finished = false;
    const handler = async (): Promise<void> => {
      started = true;
      await delay(300);
      finished = true;
    };
    await bus.subscribe({ group: run.group('g'), topics: [topic], handler });
    await bus.publish(topic, [message('c-1', 'k')]);
    await waitFor('the handler to start', () => started, run.deliveryTimeoutMs);
    await bus.close();
    expect(finished).toBe(true);
    await bus.close(); // idempotent
    expect(bus.isReady()).toBe(false);
  });

  it(
    'close() gives up on a stuck handler after the drain deadline',
    { timeout: run.testTimeoutMs },
    async () => {
      const bus = await run.bus();
      const topic = run.topic('stuck');
      const stuck = gate();
      let started = false;
      const handler = async (): Promise<void> => {
        started = true;
        await stuck.opened;
      };
      const subscription = await bus.subscribe({ group: run.group('g'), topics: [topic], handler });
      await bus.publish(topic, [message('s-1', 'k')]);
      await waitFor('the handler to start', () => started, run.deliveryTimeoutMs);
      const began = Date.now();
      await subscription.close();
      await bus.close();
      expect(Date.now() - began).toBeLessThan(run.drainTimeoutMs + 10_000);
      stuck.open();
    },
  );

  it('rejects invalid topic names, oversize messages and use after close with typed errors', async () => {
    const bus: MessageBus = await run.bus();
    const topic = run.topic('input');
    for (const bad of ['', 'Upper', 'has space', '.leading', 'a/b', 'x'.repeat(201)]) {
      await expectBusError(bus.publish(bad, [message('i-1', 'k')]), 'CONCORD_BUS_INVALID_TOPIC');
      await expectBusError(
        bus.subscribe({ group: run.group('g'), topics: [bad], handler: collector().handler }),
        'CONCORD_BUS_INVALID_TOPIC',
      );
    }
    const oversize = { id: 'big', key: 'k', payload: new Uint8Array(run.maxMessageBytes + 1) };
    await expectBusError(bus.publish(topic, [oversize]), 'CONCORD_BUS_MESSAGE_TOO_LARGE');
    await expectBusError(
      bus.publish(topic, [{ id: '', key: 'k', payload: new Uint8Array(1) }]),
      'CONCORD_BUS_INVALID_MESSAGE',
    );
    await bus.close();
    await expectBusError(bus.publish(topic, [message('i-2', 'k')]), 'CONCORD_BUS_CLOSED');
    await expectBusError(
      bus.subscribe({ group: run.group('g'), topics: [topic], handler: collector().handler }),
      'CONCORD_BUS_CLOSED',
    );
  });

  const { restartBroker } = run.options;
  if (restartBroker !== undefined) {
    it(
      'loses no confirmed message when the broker restarts mid-stream',
      { timeout: Math.max(run.testTimeoutMs, 240_000) },
      async () => {
        const bus = await run.bus();
        const topic = run.topic('restart');
        const received = new Set<string>();
        await bus.subscribe({
          group: run.group('g'),
          topics: [topic],
          handler: (m) => {
            received.add(m.id);
            return Promise.resolve();
          },
        });
        const confirmed: string[] = [];
        const failures: unknown[] = [];
        let stop = false;
        let batch = 0;
        const publishing = (async () => {
          while (!stop) {
            const ids = Array.from({ length: 5 }, (_, i) => `b${batch}-${i}`);
            batch += 1;
            try {
              await bus.publish(
                topic,
                ids.map((id, i) => message(id, `k-${i}`)),
              );
              confirmed.push(...ids);
            } catch (error) {
              failures.push(error);
              await delay(100);
            }
            await delay(5);
          }
        })();
        await waitFor('some confirmed messages', () => confirmed.length >= 50, run.deliveryTimeoutMs);
        await restartBroker();
        const afterRestart = confirmed.length;
        await waitFor('publishing to resume', () => confirmed.length >= afterRestart + 50, 120_000);
        stop = true;
        await publishing;
        for (const failure of failures) expect(failure).toMatchObject({ retryable: true });
        await waitFor('every confirmed message', () => confirmed.every((id) => received.has(id)), 120_000);
        expect(bus.isReady()).toBe(true);
      },
    );
  }
};
