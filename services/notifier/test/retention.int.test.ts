import { Topics } from '@concord/core/messages';
import type { Database } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NewNotification } from '../src/notification.js';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import { createDeliveryStore } from '../src/store/deliveries.js';
import type { DeliveryRef, DeliveryStore } from '../src/store/deliveries.js';
import { createNotificationLog, LOG_START } from '../src/store/log.js';
import type { NotificationLog } from '../src/store/log.js';
import { tablesFor } from '../src/store/tables.js';
import { notifierErrors } from '../src/errors.js';
import { metricValue, startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { openStream } from './support/sse-client.js';
import type { SseClient } from './support/sse-client.js';

const HOUR_MS = 3_600_000;

const draft = (messageId: string): NewNotification => ({
  kind: 'applied',
  topic: Topics.applied,
  messageId,
  eventId: messageId,
  aggregateType: 'task',
  aggregateId: 'retention',
  data: { n: messageId },
});

/**
 * Pruning passes only entries below the snapshot's xmin, which any open transaction on the server holds
 * back (other test files run meanwhile): waits until every entry is there.
 */
const readable = (db: Database) =>
  waitFor('every entry below the snapshot xmin', async () => {
    const { rows } = await db.query<{ waiting: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM concord.notifier_log
         WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())) AS waiting`,
    );
    return rows[0]?.waiting === false;
  });

const eventIdOf = (data: string): string => (JSON.parse(data) as { eventId: string }).eventId;

describe('notification log and delivery retention', () => {
  let database: TestDatabase;
  let log: NotificationLog;
  let deliveries: DeliveryStore;

  const append = async (...messageIds: string[]): Promise<string[]> => {
    const stored = await database.db.withTransaction((tx) => log.appendMany(tx, messageIds.map(draft)));
    return stored.map((n) => n?.id ?? '');
  };
  /** Makes entries look `hours` old (created_at is the clock at insert). */
  const age = async (ids: readonly string[], hours: number) => {
    await database.db.query(
      `UPDATE concord.notifier_log SET created_at = now() - $2 * interval '1 hour' WHERE id = ANY($1::bigint[])`,
      [ids, hours],
    );
  };
  const logIds = async (): Promise<string[]> => {
    const { rows } = await database.db.query<{ id: string }>(
      `SELECT id::text AS id FROM concord.notifier_log ORDER BY id`,
    );
    return rows.map((row) => row.id);
  };
  const pruneAll = async (retentionMs: number, limit = 2) => {
    await readable(database.db);
    let deleted = 0;
    for (;;) {
      const batch = await log.prune(database.db, { retentionMs, limit });
      deleted += batch.deleted;
      if (!batch.more) return deleted;
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    const tables = tablesFor(database.schema);
    log = createNotificationLog(tables);
    deliveries = createDeliveryStore(tables);
    await database.db.query(
      `INSERT INTO concord.notifier_subscriptions (id, url, secret) VALUES ('sub-1', 'http://127.0.0.1:1/', 's')`,
    );
  });

  afterAll(async () => {
    await database?.close();
  });

  it('prunes entries older than the retention in log order, keeps newer ones, and records how far', async () => {
    expect(await log.prunedThrough(database.db)).toEqual(LOG_START);
    const old = await append('log-1', 'log-2', 'log-3', 'log-4', 'log-5');
    const recent = await append('log-6', 'log-7');
    await age(old, 3);
    // An old entry behind a recent one in log order is not passed: the pruned part is a prefix.
    const stray = await append('log-8');
    await age(stray, 3);

    expect(await pruneAll(2 * HOUR_MS)).toBe(5);
    expect(await logIds()).toEqual([...recent, ...stray]);
    const through = await log.prunedThrough(database.db);
    expect(through.id).toBe(old.at(-1));
    // Nothing older than the retention is left at the head: another run deletes nothing.
    expect(await pruneAll(2 * HOUR_MS)).toBe(0);
    expect(await log.prunedThrough(database.db)).toEqual(through);
    // The head never sorts before the pruned position.
    expect((await log.head(database.db)).id).toBe(stray[0]);
  });

  it('keeps an entry while a delivery of it is unfinished, and deletes it once the delivery finishes', async () => {
    await pruneAll(0);
    const [waiting, other] = await append('wait-1', 'wait-2');
    if (waiting === undefined || other === undefined) throw new Error('not appended');
    await database.db.withTransaction((tx) => deliveries.insert(tx, waiting, ['sub-1']));
    await age([waiting, other], 3);

    expect(await pruneAll(2 * HOUR_MS)).toBe(1);
    expect(await logIds()).toEqual([waiting]);
    // Passed all the same: the stream does not serve it any more.
    expect((await log.prunedThrough(database.db)).id).toBe(other);

    await deliveries.markDelivered(database.db, [
      { deliveryId: `d${waiting}-sub-1`, attempts: 1, httpStatus: 200 },
    ]);
    expect(await pruneAll(2 * HOUR_MS)).toBe(1);
    expect(await logIds()).toEqual([]);
    expect((await log.prunedThrough(database.db)).id).toBe(other);
  });

  it('prunes finished deliveries older than their retention; unfinished and recent ones stay', async () => {
    const ids = await append('del-1', 'del-2', 'del-3', 'del-4');
    await database.db.withTransaction((tx) =>
      deliveries.insertMany(
        tx,
        ids.map((notificationId) => ({ notificationId, subscriptionId: 'sub-1' })),
      ),
    );
    const [delivered, dead, recent, pending] = ids.map((id) => `d${id}-sub-1`);
    await deliveries.markDelivered(database.db, [
      { deliveryId: delivered ?? '', attempts: 1, httpStatus: 200 },
    ]);
    await deliveries.markDelivered(database.db, [{ deliveryId: recent ?? '', attempts: 1, httpStatus: 200 }]);
    await database.db.query(
      `UPDATE concord.notifier_deliveries SET status = 'dead', finished_at = now() WHERE id = $1`,
      [dead],
    );
    await database.db.query(
      `UPDATE concord.notifier_deliveries SET finished_at = now() - interval '3 hours', created_at = now() - interval '3 hours'
       WHERE id = ANY($1::text[])`,
      [[delivered, dead, pending]],
    );

    expect(await deliveries.prune(database.db, { retentionMs: 2 * HOUR_MS, limit: 1 })).toBe(1);
    expect(await deliveries.prune(database.db, { retentionMs: 2 * HOUR_MS, limit: 10 })).toBe(1);
    expect(await deliveries.prune(database.db, { retentionMs: 2 * HOUR_MS, limit: 10 })).toBe(0);
    const { rows } = await database.db.query<{ id: string }>(
      `SELECT id FROM concord.notifier_deliveries WHERE notification_id = ANY($1::bigint[]) ORDER BY id`,
      [ids],
    );
    expect(rows.map((row) => row.id).sort()).toEqual([recent, pending].sort());
  });

  it('instances pruning at once delete each entry once and leave one pruned position', async () => {
    await pruneAll(0);
    const old = await append(...Array.from({ length: 60 }, (_, i) => `many-${String(i).padStart(2, '0')}`));
    await age(old, 3);
    await readable(database.db);
    const counts = await Promise.all([
      pruneAll(2 * HOUR_MS, 7),
      pruneAll(2 * HOUR_MS, 7),
      pruneAll(2 * HOUR_MS, 7),
    ]);
    // A prune that finds another one holding the position stops; the run after it finishes the rest.
    const rest = await pruneAll(2 * HOUR_MS, 7);
    expect(counts.reduce((sum, n) => sum + n, 0) + rest).toBe(60);
    expect((await logIds()).filter((id) => old.includes(id))).toEqual([]);
    expect((await log.prunedThrough(database.db)).id).toBe(old.at(-1));
  });
});

describe('GET /v1/stream after the log was pruned', () => {
  let database: TestDatabase;
  let harness: Harness;
  const clients: SseClient[] = [];
  const open = async (query: string, headers: Record<string, string> = {}) => {
    const client = await openStream(`${harness.url}/v1/stream${query}`, headers);
    clients.push(client);
    return client;
  };
  const logged = (n: number) => async () => {
    const { rows } = await database.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM concord.notifier_log WHERE aggregate_id = 'pruned-1'`,
    );
    return rows[0]?.n === n;
  };

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      }),
      settings: { logRetentionMs: HOUR_MS, retentionIntervalMs: 3_600_000 },
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await harness?.shutdown();
    await database?.close();
  });

  it('tells a client resuming from a pruned position to resync, then goes on without gaps', async () => {
    const first = await open('?aggregateIds=pruned-*');
    for (let i = 1; i <= 3; i += 1)
      await harness.publishApplied(`e-pruned-${i}`, { aggregateId: 'pruned-1', version: i });
    await waitFor('three events', () => first.events.length === 3);
    const seenFirst = first.events[0]?.id ?? '';
    const seenLast = first.events.at(-1)?.id ?? '';
    first.close();

    await database.db.query(`UPDATE concord.notifier_log SET created_at = now() - interval '2 hours'`);
    await readable(database.db);
    expect(await harness.module.retention.runOnce()).toMatchObject({ notifier_log: 3 });
    expect(
      await metricValue(harness.metrics, 'concord_retention_pruned_rows_total', { table: 'notifier_log' }),
    ).toBe(3);
    for (let i = 4; i <= 5; i += 1)
      await harness.publishApplied(`e-pruned-${i}`, { aggregateId: 'pruned-1', version: i });
    await waitFor('the two later events logged', logged(2));

    // Resuming after the first event: the second and third are gone.
    const behind = await open('?aggregateIds=pruned-*', { 'last-event-id': seenFirst });
    await waitFor('resync and the two later events', () => behind.events.length === 3);
    const [resync, ...rest] = behind.events;
    expect(resync?.event).toBe('resync');
    expect(resync?.id).toBe(seenLast);
    expect(JSON.parse(resync?.data ?? '{}')).toMatchObject({
      code: notifierErrors.STREAM_RESYNC_REQUIRED.code,
      prunedThrough: seenLast,
    });
    expect(rest.map((event) => eventIdOf(event.data))).toEqual(['e-pruned-4', 'e-pruned-5']);

    // Replaying "the whole log" says so too.
    const replay = await open('?aggregateIds=pruned-*&lastEventId=0');
    await waitFor('resync and the retained events', () => replay.events.length === 3);
    expect(replay.events.map((event) => event.event)).toEqual(['resync', 'applied', 'applied']);

    // The resync event's id, the last event seen before the prune, and a retained id resume quietly.
    for (const lastEventId of [resync?.id ?? '', seenLast, rest[0]?.id ?? '']) {
      const quiet = await open('?aggregateIds=pruned-*', { 'last-event-id': lastEventId });
      const expected = lastEventId === rest[0]?.id ? ['e-pruned-5'] : ['e-pruned-4', 'e-pruned-5'];
      await waitFor(`events after ${lastEventId}`, () => quiet.events.length === expected.length);
      expect(quiet.events.map((event) => eventIdOf(event.data))).toEqual(expected);
    }
    // And so does a stream from now.
    const fresh = await open('?aggregateIds=pruned-*');
    await harness.publishApplied('e-pruned-6', { aggregateId: 'pruned-1', version: 6 });
    await waitFor('the live event', () => fresh.events.length === 1);
    expect(fresh.events[0]?.event).toBe('applied');
  });
});
