import { describe, expect, it } from 'vitest';
import { ConcordError } from '@concord/core';
import { createMemoryBus } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';

/** `confirm: 'consumed'`: publish resolves only once every group's consumer settled the messages. */

const message = (id: string, key = 'k') => ({ id, key, payload: new TextEncoder().encode(id) });

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

/** Whether `promise` settled within a few macrotasks (the memory bus works in microtasks). */
const state = async (promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> => {
  let result: 'pending' | 'resolved' | 'rejected' = 'pending';
  promise.then(
    () => (result = 'resolved'),
    () => (result = 'rejected'),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  return result;
};

const consumed = (): MessageBus =>
  createMemoryBus({ confirm: 'consumed', drainTimeoutMs: 200, random: () => 0 });

describe('memory bus, confirm: consumed', () => {
  it('resolves a publish once every group handled every message, not when they are enqueued', async () => {
    const bus = consumed();
    const slow = gate();
    const handled: string[] = [];
    await bus.subscribe({
      group: 'a',
      topics: ['t'],
      handler: async (m) => {
        await slow.opened;
        handled.push(`a:${m.id}`);
      },
    });
    await bus.subscribe({
      group: 'b',
      topics: ['t'],
      handler: (m) => {
        handled.push(`b:${m.id}`);
        return Promise.resolve();
      },
    });
    const published = bus.publish('t', [message('1'), message('2', 'other')]);
    expect(await state(published)).toBe('pending');
    expect(handled.sort()).toEqual(['b:1', 'b:2']);
    slow.open();
    await published;
    expect(handled.sort()).toEqual(['a:1', 'a:2', 'b:1', 'b:2']);
    await bus.close();
  });

  it('counts a retried message once it is handled, and a dead-lettered one as settled', async () => {
    const bus = consumed();
    const attempts = new Map<string, number>();
    await bus.subscribe({
      group: 'g',
      topics: ['t'],
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      handler: (m: IncomingMessage) => {
        attempts.set(m.id, (attempts.get(m.id) ?? 0) + 1);
        if (m.id === 'poison') throw new ConcordError('TEST_POISON', 'never works', { retryable: false });
        if (m.attempt < 2) throw new ConcordError('TEST_FLAKY', 'first try fails', { retryable: true });
        return Promise.resolve();
      },
    });
    await bus.publish('t', [message('flaky'), message('poison', 'p')]);
    expect(Object.fromEntries(attempts)).toEqual({ flaky: 2, poison: 1 });
    await bus.close();
  });

  it('refuses a topic without groups retryably (it was confirmed, and lost), and holds declared ones', async () => {
    const bus = consumed();
    const error = await bus.publish('nobody', [message('1')]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE', retryable: true });
    await bus.declare([{ topic: 'nobody', groups: ['late'] }]);
    // Declared, the group keeps the message; with no member yet, nobody settles it soon.
    const waiting = await bus.publish('nobody', [message('1')]).catch((e: unknown) => e);
    expect(waiting).toMatchObject({ code: 'CONCORD_BUS_UNAVAILABLE', retryable: true });
    const handled: string[] = [];
    await bus.subscribe({
      group: 'late',
      topics: ['nobody'],
      handler: (m) => Promise.resolve(void handled.push(m.id)),
    });
    await bus.publish('nobody', [message('2')]);
    expect(handled).toEqual(['1', '2']);
    await bus.close();
  });

  it('rejects retryably while a group has no member, and keeps the message for the next member', async () => {
    const bus = consumed();
    const first = await bus.subscribe({ group: 'g', topics: ['t'], handler: () => Promise.resolve() });
    await first.close();
    const error = await bus.publish('t', [message('kept')]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONCORD_BUS_UNAVAILABLE', retryable: true });
    const seen: string[] = [];
    await bus.subscribe({
      group: 'g',
      topics: ['t'],
      handler: (m) => {
        seen.push(m.id);
        return Promise.resolve();
      },
    });
    await expect.poll(() => seen).toEqual(['kept']);
    await bus.close();
  });

  it('rejects a publish whose messages wait when the group’s last consumer closes', async () => {
    const bus = consumed();
    const slow = gate();
    const subscription = await bus.subscribe({
      group: 'g',
      topics: ['t'],
      concurrency: 1,
      handler: () => slow.opened,
    });
    const inFlight = bus.publish('t', [message('1')]);
    const queued = bus.publish('t', [message('2', 'k2')]);
    expect(await state(queued)).toBe('pending');
    const closing = subscription.close();
    slow.open();
    await closing;
    // The one being handled when the consumer closed finished, so it is confirmed; the one queued
    // behind it was released back to the group, which has no member now.
    await inFlight;
    await expect(queued).rejects.toMatchObject({ code: 'CONCORD_BUS_UNAVAILABLE', retryable: true });
    await bus.close();
  });

  it('fails what is still unconfirmed when the bus closes with a handler past its drain deadline', async () => {
    const bus = consumed();
    await bus.subscribe({ group: 'g', topics: ['t'], handler: () => new Promise(() => undefined) });
    const stuck = bus.publish('t', [message('1')]);
    expect(await state(stuck)).toBe('pending');
    await bus.close();
    await expect(stuck).rejects.toMatchObject({ code: 'CONCORD_BUS_UNAVAILABLE' });
  });
});
