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
};
