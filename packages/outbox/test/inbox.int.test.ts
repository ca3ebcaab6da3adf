import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createInbox } from '../src/index.js';
import type { Inbox } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';

const HOUR_MS = 3_600_000;

describe('inbox retention', () => {
  let database: TestDatabase;
  let inbox: Inbox;
  let runs: string[];

  /** Handles `messageId` as a consumer would; the work records that it ran. */
  const handle = (consumer: string, messageId: string) =>
    database.db.withTransaction((tx) =>
      inbox.handle(tx, consumer, messageId, () => {
        runs.push(`${consumer}/${messageId}`);
        return Promise.resolve();
      }),
    );
  const age = async (consumer: string, messageIds: readonly string[], hours: number) => {
    await database.db.query(
      `UPDATE concord.inbox SET received_at = now() - $3 * interval '1 hour'
       WHERE consumer = $1 AND message_id = ANY($2::text[])`,
      [consumer, messageIds, hours],
    );
  };
  const ids = async (consumer: string): Promise<string[]> => {
    const { rows } = await database.db.query<{ message_id: string }>(
      `SELECT message_id FROM concord.inbox WHERE consumer = $1 ORDER BY message_id`,
      [consumer],
    );
    return rows.map((row) => row.message_id);
  };

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    inbox = createInbox({ schema: database.schema });
  });

  afterAll(async () => {
    await database?.close();
  });

  it('forgets ids older than the retention, keeps newer ones, and only then handles a redelivery again', async () => {
    runs = [];
    for (const id of ['m-1', 'm-2', 'm-3', 'm-4']) await handle('svc', id);
    await age('svc', ['m-1', 'm-2', 'm-3'], 3);

    // Within the retention a redelivery changes nothing.
    expect(await handle('svc', 'm-1')).toEqual({ duplicate: true });
    expect(await inbox.prune(database.db, { olderThanMs: 4 * HOUR_MS })).toBe(0);
    expect(await handle('svc', 'm-1')).toEqual({ duplicate: true });

    // Bounded batches, oldest first.
    expect(await inbox.prune(database.db, { olderThanMs: 2 * HOUR_MS, limit: 2 })).toBe(2);
    expect(await inbox.prune(database.db, { olderThanMs: 2 * HOUR_MS, limit: 2 })).toBe(1);
    expect(await inbox.prune(database.db, { olderThanMs: 2 * HOUR_MS, limit: 2 })).toBe(0);
    expect(await ids('svc')).toEqual(['m-4']);

    // After it, a redelivery of a pruned id is handled again: the retention must outlast redeliveries.
    expect(await handle('svc', 'm-4')).toEqual({ duplicate: true });
    expect(await handle('svc', 'm-2')).toMatchObject({ duplicate: false });
    expect(runs).toEqual(['svc/m-1', 'svc/m-2', 'svc/m-3', 'svc/m-4', 'svc/m-2']);
  });

  it('prunes only the consumers it is given', async () => {
    for (const consumer of ['mine', 'theirs']) {
      await handle(consumer, 'x-1');
      await age(consumer, ['x-1'], 3);
    }
    expect(await inbox.prune(database.db, { olderThanMs: HOUR_MS, consumers: ['mine'] })).toBe(1);
    expect(await ids('mine')).toEqual([]);
    expect(await ids('theirs')).toEqual(['x-1']);
  });

  it('instances pruning at once delete each id once, without waiting on each other', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `c-${String(i).padStart(3, '0')}`);
    await database.db.query(
      `INSERT INTO concord.inbox (consumer, message_id, received_at)
       SELECT 'busy', id, now() - interval '3 hours' FROM unnest($1::text[]) AS id`,
      [many],
    );
    const pruneAll = async () => {
      let total = 0;
      for (;;) {
        const deleted = await inbox.prune(database.db, {
          olderThanMs: HOUR_MS,
          limit: 25,
          consumers: ['busy'],
        });
        total += deleted;
        if (deleted === 0) return total;
      }
    };
    const counts = await Promise.all([pruneAll(), pruneAll(), pruneAll()]);
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(300);
    expect(await ids('busy')).toEqual([]);
  });
});
