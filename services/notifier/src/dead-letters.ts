import { ConcordError } from '@concord/core';
import { outboxErrors } from '@concord/outbox';
import type { Database } from '@concord/outbox';
import type { DeadLetterSource } from '@concord/service-kit';
import { maskUrl } from './mask-url.js';
import { createDeadLetterReplayStore } from './store/dead-letter-replay.js';
import type { DeadLetterPosition, UnreplayableDelivery } from './store/dead-letter-replay.js';
import type { Tables } from './store/tables.js';

/** Postgres's text of a `timestamptz` (`2026-12-04 22:21:08.123456+00`), as the cursor carries it. */
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

const encodeCursor = (position: DeadLetterPosition): string =>
  Buffer.from(JSON.stringify([position.at, position.deliveryId])).toString('base64url');

const decodeCursor = (cursor: string): DeadLetterPosition => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    PG_TIMESTAMP.test(parsed[0]) &&
    typeof parsed[1] === 'string'
  ) {
    return { at: parsed[0], deliveryId: parsed[1] };
  }
  throw new ConcordError(
    outboxErrors.INVALID_CURSOR,
    'The dead-letter cursor is not one this server issued',
    {
      details: { cursor },
    },
  );
};

const REASONS: Record<UnreplayableDelivery['reason'], string> = {
  subscription_deleted: 'its subscription was deleted: there is nowhere to deliver it',
  notification_pruned: 'its notification is no longer in the log (retention): there is nothing to deliver',
};

/**
 * The notifier's webhook deliveries that used up their attempts, as `/v1/dead-letters?kind=webhook` lists
 * and replays them. A replay schedules the delivery again with the same delivery id (`webhook-id`, so a
 * receiver that had taken it dedupes) and a fresh budget of attempts; `wake` tells the dispatcher.
 */
export const webhookDeadLetterSource = (options: {
  readonly db: Database;
  readonly tables: Tables;
  readonly wake: () => void;
}): DeadLetterSource => {
  const store = createDeadLetterReplayStore(options.tables);
  const { db } = options;
  return {
    kind: 'webhook',
    filters: ['subscriptionId', 'errorCode', 'before'],
    async list({ limit, after, filter }) {
      const rows = await store.page(db, {
        limit,
        filter,
        ...(after === undefined ? {} : { after: decodeCursor(after) }),
      });
      const last = rows.at(-1);
      return {
        deadLetters: rows.map((row) => ({
          kind: 'webhook',
          id: row.deliveryId,
          errorCode: row.errorCode,
          error: row.lastError,
          attempts: row.attempts,
          deadLetteredAt: row.deadLetteredAt,
          notificationId: row.notificationId,
          subscriptionId: row.subscriptionId,
          url: maskUrl(row.url),
          ...(row.lastStatus === null ? {} : { lastStatus: row.lastStatus }),
        })),
        next: rows.length === limit && last !== undefined ? encodeCursor(last.position) : null,
      };
    },
    async replay(ids) {
      const { replayed, refused } = await store.replay(db, ids);
      if (replayed.length > 0) options.wake();
      const found = new Set([...replayed, ...refused.map((r) => r.deliveryId)]);
      return {
        replayed,
        missing: [...new Set(ids)].filter((id) => !found.has(id)),
        refused: refused.map((r) => ({ id: r.deliveryId, reason: r.reason, message: REASONS[r.reason] })),
      };
    },
    async replayMatching(filter, limit) {
      const replayed = await store.replayMatching(db, filter, limit);
      if (replayed.length > 0) options.wake();
      return { replayed, more: replayed.length === limit };
    },
  };
};
