import { Topics } from '@concord/core/messages';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { NewNotification } from '../src/notification.js';
import { createNotificationLog, LOG_START } from '../src/store/log.js';
import type { LogPosition, NotificationLog } from '../src/store/log.js';
import { tablesFor } from '../src/store/tables.js';

const draft = (messageId: string): NewNotification => ({
  kind: 'applied',
  topic: Topics.applied,
  messageId,
  eventId: messageId,
  aggregateType: 'task',
  aggregateId: 'log-order',
  data: { n: messageId },
});

// One consumer batch writes many notifications in one transaction; their ids cross a power of ten
// (9 → 10, 99 → 100). Readers must order them by the numeric id, not by its text.
describe('notification log order within one transaction', () => {
  let database: TestDatabase;
  let log: NotificationLog;
  let ids: string[];

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    log = createNotificationLog(tablesFor(database.schema));
    const stored = await database.db.withTransaction((tx) =>
      log.appendMany(
        tx,
        // Zero-padded: rows go in in message id order, which is then the order given.
        Array.from({ length: 105 }, (_, i) => draft(`m-${String(i + 1).padStart(3, '0')}`)),
      ),
    );
    ids = stored.map((n) => n?.id ?? '');
  });

  afterAll(async () => {
    await database?.close();
  });

  it('reads a whole transaction in id order', async () => {
    expect(ids.map(Number)).toEqual(Array.from({ length: 105 }, (_, i) => i + 1));
    const entries = await log.readAfter(database.db, LOG_START, 500);
    expect(entries.map((e) => e.notification.id)).toEqual(ids);
  });

  it('pages through a transaction without skipping rows', async () => {
    const seen: string[] = [];
    let after: LogPosition = LOG_START;
    for (;;) {
      const page = await log.readAfter(database.db, after, 7);
      seen.push(...page.map((e) => e.notification.id));
      const last = page.at(-1);
      if (last === undefined) break;
      after = last.position;
    }
    expect(seen).toEqual(ids);
  });

  it('puts the head at the highest id and resumes after an id inside the transaction', async () => {
    expect((await log.head(database.db)).id).toBe('105');
    const from = await log.positionOf(database.db, '9');
    const entries = await log.readAfter(database.db, from, 500);
    expect(entries.map((e) => e.notification.id)).toEqual(ids.slice(9));
  });
});

// The log is the notifier's inbox: a message id is stored once, whatever redelivers it.
describe('notification log as the inbox', () => {
  let database: TestDatabase;
  let log: NotificationLog;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    log = createNotificationLog(tablesFor(database.schema));
  });

  afterAll(async () => {
    await database?.close();
  });

  it('stores a message id once: a redelivery, or the same id again in one batch, stores nothing', async () => {
    const first = await database.db.withTransaction((tx) =>
      log.appendMany(tx, [draft('once-1'), draft('once-2'), draft('once-1')]),
    );
    expect(first.map((n) => n?.messageId)).toEqual(['once-1', 'once-2', undefined]);
    const again = await database.db.withTransaction((tx) =>
      log.appendMany(tx, [draft('once-2'), draft('once-3')]),
    );
    expect(again.map((n) => n?.messageId)).toEqual([undefined, 'once-3']);
    const entries = await log.readAfter(database.db, LOG_START, 100);
    expect(entries.map((e) => e.notification.messageId)).toEqual(['once-1', 'once-2', 'once-3']);
  });
});
