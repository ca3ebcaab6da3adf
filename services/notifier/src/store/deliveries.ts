import { cast, insertRow } from '@concord/outbox';
import type { Database, Sql, Tx } from '@concord/outbox';
import type { NotificationFormat } from '../cloudevent.js';
import type { Notification } from '../notification.js';
import { logColumns, notificationOfRow } from './log.js';
import type { LogRow } from './log.js';
import type { Tables } from './tables.js';

/** Stable per notification and subscription: `webhook-id` (and `X-Concord-Delivery-Id`) and the job id. */
export const deliveryId = (notificationId: string, subscriptionId: string): string =>
  `d${notificationId}-${subscriptionId}`;

export type DeliveryStatus = 'pending' | 'queued' | 'delivered' | 'dead';

/**
 * What the queue carries: ids only, so no secret or body ever sits in Redis, and the W3C trace context
 * of the message that produced the delivery, which the delivery continues.
 */
export interface DeliveryRef {
  readonly deliveryId: string;
  readonly notificationId: string;
  readonly subscriptionId: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** The token of the delivery's latest replay (see {@link deliveryJobId}); absent until replayed. */
  readonly replay?: string;
}

/**
 * The job id of a delivery: its id, or for a replayed one `r<replay token>-<id>` (never a delivery id,
 * which starts with `d`), since the job queue ignores the id of a job it still remembers.
 */
export const deliveryJobId = (ref: DeliveryRef): string =>
  ref.replay === undefined ? ref.deliveryId : `r${ref.replay}-${ref.deliveryId}`;

/** One pending delivery to write: a notification for a subscription, in the producing message's trace. */
export interface NewDelivery {
  readonly notificationId: string;
  readonly subscriptionId: string;
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

export interface DeliveryTarget {
  readonly status: DeliveryStatus;
  readonly url: string;
  readonly secret: string;
  /** The secret a rotation replaced, while it still signs beside `secret`; null otherwise. */
  readonly previousSecret: string | null;
  readonly format: NotificationFormat;
  /** The subscription's tenant (null: the default tenant): the body carries the ids as it knows them. */
  readonly tenant: string | null;
}

/** What an attempt needs, read in one statement: where it goes and what it says. */
export interface DeliveryWork {
  readonly target: DeliveryTarget;
  /** Undefined only if the log lost it (its deliveries go with it). */
  readonly notification: Notification | undefined;
}

/** A delivery that succeeded: the attempt that did it and the receiver's status. */
export interface DeliveredMark {
  readonly deliveryId: string;
  readonly attempts: number;
  readonly httpStatus: number;
}

export interface DeadLetter {
  readonly deliveryId: string;
  readonly notificationId: string;
  readonly subscriptionId: string;
  readonly url: string;
  readonly attempts: number;
  readonly errorCode: string;
  readonly lastError: string;
  readonly lastStatus?: number;
  readonly deadLetteredAt: string;
}

export interface DeliveryStore {
  /** Writes one pending delivery per subscription, inside the consumer's transaction. */
  insert(tx: Tx, notificationId: string, subscriptionIds: readonly string[]): Promise<number>;
  /**
   * Writes the pending deliveries of a batch of notifications in one statement, inside the consumer's
   * transaction; returns how many each notification got.
   */
  insertMany(tx: Tx, deliveries: readonly NewDelivery[]): Promise<Map<string, number>>;
  /**
   * In one transaction: locks up to `limit` pending deliveries (skipping rows other dispatchers hold),
   * hands them to `enqueue`, and marks them queued when it resolves. A failing `enqueue` leaves them
   * pending. Returns how many were queued.
   */
  dispatchPending(
    db: Database,
    limit: number,
    enqueue: (refs: readonly DeliveryRef[]) => Promise<void>,
  ): Promise<number>;
  /** Queued but unfinished deliveries go back to pending (for a queue that does not survive restarts). */
  requeueUnfinished(sql: Sql): Promise<number>;
  /** The delivery's status, url and secret; undefined once the subscription (and so the delivery) is gone. */
  target(sql: Sql, deliveryId: string): Promise<DeliveryTarget | undefined>;
  /**
   * The targets and notifications of several deliveries in one statement, by delivery id; a delivery
   * that is gone (its subscription deleted, or pruned) is absent.
   */
  load(sql: Sql, deliveryIds: readonly string[]): Promise<Map<string, DeliveryWork>>;
  /** Marks deliveries delivered, in one statement. */
  markDelivered(sql: Sql, marks: readonly DeliveredMark[]): Promise<void>;
  recordFailure(
    sql: Sql,
    deliveryId: string,
    attempts: number,
    error: string,
    httpStatus: number | undefined,
  ): Promise<void>;
  deadLetter(db: Database, letter: Omit<DeadLetter, 'deadLetteredAt'>): Promise<void>;
  deadLetters(sql: Sql, subscriptionId?: string): Promise<DeadLetter[]>;
  /**
   * Deletes up to `limit` deliveries that finished (delivered or dead) longer ago than `retentionMs`,
   * oldest first, skipping rows another pruner holds; returns how many. Unfinished deliveries stay, and
   * dead letters have their own table. A job of a pruned delivery that runs again finds no target and
   * sends nothing.
   */
  prune(sql: Sql, options: { readonly retentionMs: number; readonly limit: number }): Promise<number>;
}

interface DeadLetterRow {
  delivery_id: string;
  notification_id: string;
  subscription_id: string;
  url: string;
  attempts: number;
  error_code: string;
  last_error: string;
  last_status: number | null;
  dead_lettered_at: string;
}

/** A delivery's target (its subscription's tenant renamed) beside its log row, null without one. */
type WorkRow = Omit<DeliveryTarget, 'tenant'> &
  Omit<LogRow, 'id'> & {
    readonly delivery_id: string;
    readonly subscription_tenant: string | null;
    readonly id: string | null;
  };

export const createDeliveryStore = (tables: Tables): DeliveryStore => ({
  async insert(tx, notificationId, subscriptionIds) {
    if (subscriptionIds.length === 0) return 0;
    const { rowCount } = await tx.query(
      `INSERT INTO ${tables.deliveries} (id, notification_id, subscription_id)
       SELECT 'd' || $1::text || '-' || s, $1::bigint, s FROM unnest($2::text[]) AS s
       ON CONFLICT (id) DO NOTHING`,
      [notificationId, subscriptionIds],
    );
    return rowCount;
  },

  async insertMany(tx, deliveries) {
    const counts = new Map<string, number>();
    if (deliveries.length === 0) return counts;
    const { rows } = await tx.query<{ notification_id: string }>(
      `INSERT INTO ${tables.deliveries} (id, notification_id, subscription_id, traceparent, tracestate)
       SELECT 'd' || n::text || '-' || s, n, s, tp, ts
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS d (n, s, tp, ts)
       ON CONFLICT (id) DO NOTHING
       RETURNING notification_id::text AS notification_id`,
      [
        deliveries.map((d) => d.notificationId),
        deliveries.map((d) => d.subscriptionId),
        deliveries.map((d) => d.traceparent ?? null),
        deliveries.map((d) => d.tracestate ?? null),
      ],
    );
    for (const row of rows) counts.set(row.notification_id, (counts.get(row.notification_id) ?? 0) + 1);
    return counts;
  },

  async dispatchPending(db, limit, enqueue) {
    return db.withTransaction(async (tx) => {
      const { rows } = await tx.query<{
        id: string;
        notification_id: string;
        subscription_id: string;
        traceparent: string | null;
        tracestate: string | null;
        replay: string | null;
      }>(
        // Order by the numeric column (d.notification_id), not the text alias of the same name.
        `SELECT d.id, d.notification_id::text AS notification_id, d.subscription_id, d.traceparent, d.tracestate,
           d.replay
         FROM ${tables.deliveries} d
         WHERE d.status = 'pending'
         ORDER BY d.notification_id
         LIMIT $1
         FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      await enqueue(
        rows.map((row) => ({
          deliveryId: row.id,
          notificationId: row.notification_id,
          subscriptionId: row.subscription_id,
          ...(row.traceparent === null ? {} : { traceparent: row.traceparent }),
          ...(row.tracestate === null ? {} : { tracestate: row.tracestate }),
          ...(row.replay === null ? {} : { replay: row.replay }),
        })),
      );
      await tx.query(
        `UPDATE ${tables.deliveries} SET status = 'queued', queued_at = clock_timestamp()
         WHERE id = ANY($1::text[]) AND status = 'pending'`,
        [rows.map((row) => row.id)],
      );
      return rows.length;
    });
  },

  async requeueUnfinished(sql) {
    const { rowCount } = await sql.query(
      `UPDATE ${tables.deliveries} SET status = 'pending' WHERE status = 'queued'`,
    );
    return rowCount;
  },

  async target(sql, id) {
    const { rows } = await sql.query<DeliveryTarget>(
      `SELECT d.status, s.url, s.secret, s.format, s.tenant,
         CASE WHEN s.previous_secret_expires_at > clock_timestamp() THEN s.previous_secret END AS "previousSecret"
       FROM ${tables.deliveries} d
       JOIN ${tables.subscriptions} s ON s.id = d.subscription_id
       WHERE d.id = $1`,
      [id],
    );
    return rows[0];
  },

  async load(sql, ids) {
    const work = new Map<string, DeliveryWork>();
    if (ids.length === 0) return work;
    // The subscription's tenant is `subscription_tenant`: the log's row has a `tenant` of its own.
    const { rows } = await sql.query<WorkRow>(
      `SELECT d.id AS delivery_id, d.status, s.url, s.secret, s.format, s.tenant AS subscription_tenant,
         CASE WHEN s.previous_secret_expires_at > clock_timestamp() THEN s.previous_secret END AS "previousSecret",
         ${logColumns('l')}
       FROM ${tables.deliveries} d
       JOIN ${tables.subscriptions} s ON s.id = d.subscription_id
       LEFT JOIN ${tables.log} l ON l.id = d.notification_id
       WHERE d.id = ANY($1::text[])`,
      [ids],
    );
    for (const row of rows) {
      work.set(row.delivery_id, {
        target: {
          status: row.status,
          url: row.url,
          secret: row.secret,
          previousSecret: row.previousSecret,
          format: row.format,
          tenant: row.subscription_tenant,
        },
        notification: row.id === null ? undefined : notificationOfRow({ ...row, id: row.id }),
      });
    }
    return work;
  },

  async markDelivered(sql, marks) {
    if (marks.length === 0) return;
    await sql.query(
      `UPDATE ${tables.deliveries} d
       SET status = 'delivered', attempts = m.attempts, last_status = m.http_status, finished_at = clock_timestamp()
       FROM unnest($1::text[], $2::int[], $3::int[]) AS m (id, attempts, http_status)
       WHERE d.id = m.id`,
      [marks.map((m) => m.deliveryId), marks.map((m) => m.attempts), marks.map((m) => m.httpStatus)],
    );
  },

  async recordFailure(sql, id, attempts, error, httpStatus) {
    await sql.query(
      `UPDATE ${tables.deliveries} SET attempts = $2, last_error = $3, last_status = $4
       WHERE id = $1 AND status <> 'delivered'`,
      [id, attempts, error, httpStatus ?? null],
    );
  },

  async deadLetter(db, letter) {
    await db.withTransaction(async (tx) => {
      const insert = insertRow(
        tables.deadLetters,
        {
          delivery_id: letter.deliveryId,
          notification_id: cast(letter.notificationId, 'bigint'),
          subscription_id: letter.subscriptionId,
          url: letter.url,
          attempts: letter.attempts,
          error_code: letter.errorCode,
          last_error: letter.lastError,
          last_status: letter.lastStatus ?? null,
        },
        `ON CONFLICT (delivery_id) DO UPDATE SET attempts = EXCLUDED.attempts, error_code = EXCLUDED.error_code,
           last_error = EXCLUDED.last_error, last_status = EXCLUDED.last_status,
           dead_lettered_at = EXCLUDED.dead_lettered_at`,
      );
      await tx.query(insert.text, insert.values);
      await tx.query(
        `UPDATE ${tables.deliveries}
         SET status = 'dead', attempts = $2, last_error = $3, last_status = $4, finished_at = clock_timestamp()
         WHERE id = $1`,
        [letter.deliveryId, letter.attempts, letter.lastError, letter.lastStatus ?? null],
      );
    });
  },

  async prune(sql, { retentionMs, limit }) {
    const { rowCount } = await sql.query(
      `DELETE FROM ${tables.deliveries} d USING (
         SELECT f.id FROM ${tables.deliveries} f
         WHERE f.status IN ('delivered', 'dead')
           AND f.finished_at < now() - $1::float8 * interval '1 millisecond'
         ORDER BY f.finished_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED) old
       WHERE d.id = old.id`,
      [retentionMs, limit],
    );
    return rowCount;
  },

  async deadLetters(sql, subscriptionId) {
    const { rows } = await sql.query<DeadLetterRow>(
      `SELECT delivery_id, notification_id::text AS notification_id, subscription_id, url, attempts, error_code,
         last_error, last_status,
         to_char(dead_lettered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS dead_lettered_at
       FROM ${tables.deadLetters}
       WHERE $1::text IS NULL OR subscription_id = $1
       ORDER BY dead_lettered_at, delivery_id`,
      [subscriptionId ?? null],
    );
    return rows.map((row) => ({
      deliveryId: row.delivery_id,
      notificationId: row.notification_id,
      subscriptionId: row.subscription_id,
      url: row.url,
      attempts: row.attempts,
      errorCode: row.error_code,
      lastError: row.last_error,
      ...(row.last_status === null ? {} : { lastStatus: row.last_status }),
      deadLetteredAt: row.dead_lettered_at,
    }));
  },
});
