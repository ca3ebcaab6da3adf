import { ConcordError, isConcordError } from '@concord/core';
import type { Database, Tx } from '@concord/outbox';
import { describe, expect, it } from 'vitest';
import { createBatchedHandler } from '../src/batched-handler.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

/** A fake database whose transactions record what they held and whether they committed. */
const fakeDb = () => {
  const transactions: { messages: string[]; committed: boolean }[] = [];
  let open = 0;
  let maxOpen = 0;
  const tx = {} as Tx;
  const db = {
    kind: 'pg',
    async withTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      try {
        return await fn(tx);
      } finally {
        open -= 1;
      }
    },
  } as unknown as Database;
  return { db, transactions, maxOpen: () => maxOpen };
};

const harness = (options: { maxBatch?: number; lingerMs?: number; maxInFlight?: number } = {}) => {
  const fake = fakeDb();
  const gates: ReturnType<typeof deferred>[] = [];
  const isolated: number[] = [];
  let hold = false;
  const handler = createBatchedHandler<string, string>({
    db: fake.db,
    maxBatch: options.maxBatch ?? 100,
    lingerMs: options.lingerMs ?? 5,
    maxInFlight: options.maxInFlight ?? 1,
    handleBatch: async (_tx, messages) => {
      const record = { messages: [...messages], committed: false };
      fake.transactions.push(record);
      if (hold) {
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
      }
      const poison = messages.find((m) => m.startsWith('bad'));
      if (poison !== undefined) {
        throw new ConcordError('CONCORD_TEST_POISON', `${poison} is poison`, { retryable: false });
      }
      record.committed = true;
      return messages.map((m) => `done:${m}`);
    },
    onIsolate: ({ messages }) => isolated.push(messages),
  });
  return {
    handler,
    transactions: fake.transactions,
    maxOpen: fake.maxOpen,
    gates,
    isolated,
    hold: (value: boolean) => {
      hold = value;
    },
  };
};

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
};

describe('batched handler (group commit for consumers)', () => {
  it('puts concurrent messages into one transaction and settles each caller with its own result', async () => {
    const h = harness();
    const results = await Promise.all(['a', 'b', 'c'].map((m) => h.handler.handle(m)));
    expect(results).toEqual(['done:a', 'done:b', 'done:c']);
    expect(h.transactions).toEqual([{ messages: ['a', 'b', 'c'], committed: true }]);
  });

  it('caps a transaction at maxBatch messages and runs at most maxInFlight at once', async () => {
    const h = harness({ maxBatch: 2, maxInFlight: 2, lingerMs: 0 });
    h.hold(true);
    const pending = ['a', 'b', 'c', 'd', 'e'].map((m) => h.handler.handle(m));
    await until(() => h.transactions.length === 2);
    expect(h.transactions.map((t) => t.messages)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(h.handler.queued).toBe(1);
    h.hold(false);
    for (const gate of h.gates) gate.resolve();
    expect(await Promise.all(pending)).toEqual(['done:a', 'done:b', 'done:c', 'done:d', 'done:e']);
    expect(h.transactions.map((t) => t.messages)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(h.maxOpen()).toBe(2);
  });

  it('lingers for company when idle, and takes what queued behind a running transaction without lingering', async () => {
    const h = harness({ lingerMs: 30, maxInFlight: 1 });
    const first = h.handler.handle('a');
    await new Promise((r) => setTimeout(r, 5));
    const second = h.handler.handle('b');
    expect(await Promise.all([first, second])).toEqual(['done:a', 'done:b']);
    expect(h.transactions.map((t) => t.messages)).toEqual([['a', 'b']]);

    h.hold(true);
    const running = h.handler.handle('c');
    await until(() => h.transactions.length === 2);
    const behind = ['d', 'e'].map((m) => h.handler.handle(m));
    h.hold(false);
    h.gates[0]?.resolve();
    const started = Date.now();
    await Promise.all([running, ...behind]);
    expect(Date.now() - started).toBeLessThan(25);
    expect(h.transactions.map((t) => t.messages).slice(1)).toEqual([['c'], ['d', 'e']]);
  });

  it('retries a failed batch message by message, so only the poison message rejects, with its own error', async () => {
    const h = harness();
    const settled = await Promise.allSettled(['a', 'bad1', 'c'].map((m) => h.handler.handle(m)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (settled[1] as PromiseRejectedResult).reason as unknown;
    expect(isConcordError(error) && error.code === 'CONCORD_TEST_POISON' && !error.retryable).toBe(true);
    expect(h.isolated).toEqual([3]);
    expect(h.transactions).toEqual([
      { messages: ['a', 'bad1', 'c'], committed: false },
      { messages: ['a'], committed: true },
      { messages: ['bad1'], committed: false },
      { messages: ['c'], committed: true },
    ]);
  });

  it('rejects a batch whose handler returns the wrong number of results', async () => {
    const fake = fakeDb();
    const handler = createBatchedHandler<string, string>({
      db: fake.db,
      handleBatch: () => Promise.resolve([]),
    });
    const error = await handler.handle('a').catch((e: unknown) => e);
    expect(isConcordError(error) && error.code === 'CONCORD_INTERNAL').toBe(true);
  });

  it('close() commits what waits and what runs, then refuses new messages retryably', async () => {
    const h = harness({ lingerMs: 60_000, maxInFlight: 1 });
    h.hold(true);
    const waiting = ['a', 'b'].map((m) => h.handler.handle(m));
    let done = false;
    const closed = h.handler.close().then(() => {
      done = true;
    });
    await until(() => h.transactions.length === 1);
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    h.hold(false);
    h.gates[0]?.resolve();
    await closed;
    expect(await Promise.all(waiting)).toEqual(['done:a', 'done:b']);
    const refused = await h.handler.handle('late').catch((e: unknown) => e);
    expect(isConcordError(refused) && refused.code === 'CONCORD_CONSUMER_CLOSED' && refused.retryable).toBe(
      true,
    );
    await h.handler.close();
  });
});
