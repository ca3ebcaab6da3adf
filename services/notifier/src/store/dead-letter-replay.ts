import { randomUUID } from 'node:crypto';
import type { Database, Sql } from '@concord/outbox';
import type { Tables } from './tables.js';

/** What the notifier's dead letters are narrowed to: a subscription, the last error's code, a time. */
export interface WebhookDeadLetterFilter {
  readonly subscriptionId?: string;
  readonly errorCode?: string;
  /** Dead-lettered at or before (ISO 8601). */
  readonly before?: string;
}

export interface WebhookDeadLetterRow {
  readonly deliveryId: string;
  readonly notificationId: string;
  readonly subscriptionId: string;
  readonly url: string;
  readonly attempts: number;
  readonly errorCode: string;
  readonly lastError: string;
  readonly lastStatus: number | null;
  readonly deadLetteredAt: string;
  /** Where the next page starts, when this row is the page's last. */
  readonly position: DeadLetterPosition;
}

/** A place in the dead letters' order: when (Postgres's text of the timestamp, to the microsecond), then id. */
export interface DeadLetterPosition {
  readonly at: string;
  readonly deliveryId: string;
}

/** A dead delivery that cannot be replayed, and why. */
export interface UnreplayableDelivery {
  readonly deliveryId: string;
  readonly reason: 'subscription_deleted' | 'notification_pruned';
}

/**
 * The SQL of listing and replaying dead webhook deliveries (`notifier_dead_letters`). A replay, in one
 * transaction: the delivery goes back to `pending` with its attempts reset and a fresh replay token (its
 * row written again when retention had pruned it), and the dead letter is deleted; the dispatcher then
 * moves it into the job queue. A dead letter whose subscription was deleted, or whose notification the
 * log no longer holds, has nothing to deliver: it is refused and stays.
 */
export interface DeadLetterReplayStore {
  page(
    sql: Sql,
    options: { limit: number; after?: DeadLetterPosition; filter: WebhookDeadLetterFilter },
  ): Promise<WebhookDeadLetterRow[]>;
  replay(
    db: Database,
    deliveryIds: readonly string[],
  ): Promise<{ replayed: string[]; refused: UnreplayableDelivery[] }>;
  replayMatching(db: Database, filter: WebhookDeadLetterFilter, limit: number): Promise<string[]>;
}

const matches = (first: number): string =>
  `($${first}::text IS NULL OR l.subscription_id = $${first})
   AND ($${first + 1}::text IS NULL OR l.error_code = $${first + 1})
   AND ($${first + 2}::timestamptz IS NULL OR l.dead_lettered_at <= $${first + 2}::timestamptz)`;

const filterParams = (filter: WebhookDeadLetterFilter): unknown[] => [
  filter.subscriptionId ?? null,
  filter.errorCode ?? null,
  filter.before ?? null,
];

interface PageRow {
  delivery_id: string;
  notification_id: string;
  subscription_id: string;
  url: string;
  attempts: number;
  error_code: string;
  last_error: string;
  last_status: number | null;
  dead_lettered_at: string;
  position: string;
}

export const createDeadLetterReplayStore = (tables: Tables): DeadLetterReplayStore => {
  // Locks the dead letters (skipping those another replay holds) with whether they can be delivered.
  const pick = (where: string, limit: string) => `SELECT l.delivery_id, l.notification_id, l.subscription_id,
      s.id IS NOT NULL AS subscribed, n.id IS NOT NULL AS logged
    FROM ${tables.deadLetters} l
    LEFT JOIN ${tables.subscriptions} s ON s.id = l.subscription_id
    LEFT JOIN ${tables.log} n ON n.id = l.notification_id
    WHERE ${where}
    ORDER BY l.dead_lettered_at, l.delivery_id
    ${limit}
    FOR UPDATE OF l SKIP LOCKED`;
  const pickIds = pick('l.delivery_id = ANY($1::text[])', '');
  const pickMatching = pick(`${matches(2)} AND s.id IS NOT NULL AND n.id IS NOT NULL`, 'LIMIT $1');
  const requeue = `INSERT INTO ${tables.deliveries} (id, notification_id, subscription_id, replay)
      SELECT d, n, s, $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS r (d, n, s)
      ON CONFLICT (id) DO UPDATE SET status = 'pending', attempts = 0, last_error = NULL, last_status = NULL,
        queued_at = NULL, finished_at = NULL, replay = EXCLUDED.replay`;
  const remove = `DELETE FROM ${tables.deadLetters} WHERE delivery_id = ANY($1::text[])`;

  interface Picked {
    delivery_id: string;
    notification_id: string;
    subscription_id: string;
    subscribed: boolean;
    logged: boolean;
  }
  const replayPicked = async (tx: Sql, picked: readonly Picked[]): Promise<string[]> => {
    if (picked.length === 0) return [];
    await tx.query(requeue, [
      picked.map((p) => p.delivery_id),
      picked.map((p) => p.notification_id),
      picked.map((p) => p.subscription_id),
      randomUUID().replaceAll('-', ''),
    ]);
    await tx.query(remove, [picked.map((p) => p.delivery_id)]);
    return picked.map((p) => p.delivery_id);
  };

  return {
    async page(sql, { limit, after, filter }) {
      const { rows } = await sql.query<PageRow>(
        `SELECT l.delivery_id, l.notification_id::text AS notification_id, l.subscription_id, l.url, l.attempts,
           l.error_code, l.last_error, l.last_status,
           to_char(l.dead_lettered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS dead_lettered_at,
           l.dead_lettered_at::text AS position
         FROM ${tables.deadLetters} l
         WHERE ($2::text IS NULL OR (l.dead_lettered_at, l.delivery_id) > ($2::timestamptz, $3::text))
           AND ${matches(4)}
         ORDER BY l.dead_lettered_at, l.delivery_id
         LIMIT $1`,
        [limit, after?.at ?? null, after?.deliveryId ?? null, ...filterParams(filter)],
      );
      return rows.map((row) => ({
        deliveryId: row.delivery_id,
        notificationId: row.notification_id,
        subscriptionId: row.subscription_id,
        url: row.url,
        attempts: row.attempts,
        errorCode: row.error_code,
        lastError: row.last_error,
        lastStatus: row.last_status,
        deadLetteredAt: row.dead_lettered_at,
        position: { at: row.position, deliveryId: row.delivery_id },
      }));
    },

    async replay(db, deliveryIds) {
      if (deliveryIds.length === 0) return { replayed: [], refused: [] };
      return db.withTransaction(async (tx) => {
        const { rows } = await tx.query<Picked>(pickIds, [[...new Set(deliveryIds)]]);
        const refused: UnreplayableDelivery[] = rows
          .filter((p) => !p.subscribed || !p.logged)
          .map((p) => ({
            deliveryId: p.delivery_id,
            reason: p.subscribed ? 'notification_pruned' : 'subscription_deleted',
          }));
        const replayed = await replayPicked(
          tx,
          rows.filter((p) => p.subscribed && p.logged),
        );
        return { replayed, refused };
      });
    },

    async replayMatching(db, filter, limit) {
      return db.withTransaction(async (tx) => {
        const { rows } = await tx.query<Picked>(pickMatching, [limit, ...filterParams(filter)]);
        return replayPicked(tx, rows);
      });
    },
  };
};
