import type { Sql, TenantScope } from '@concord/outbox';
import type { NotificationFormat } from '../cloudevent.js';
import type { NotificationFilter } from '../filter.js';
import { maskUrl } from '../mask-url.js';
import type { Tables } from './tables.js';
import { tenantColumnCondition, tenantColumnValue } from './tenant.js';

/** A webhook subscription as the API shows it: the secret is never echoed back. */
export interface Subscription {
  readonly id: string;
  readonly url: string;
  readonly filter: NotificationFilter;
  /** How webhooks deliver: the notification as JSON, or as a structured-mode CloudEvent. */
  readonly format: NotificationFormat;
  readonly createdAt: string;
}

/** A subscription with its signing secret and its tenant, for the delivery path only. */
export interface SubscriptionWithSecret extends Subscription {
  readonly secret: string;
  /** The tenant of the caller who created it (`undefined`: the default tenant); it hears only its own. */
  readonly tenant: string | undefined;
}

interface Row {
  id: string;
  url: string;
  filter: NotificationFilter | string;
  format: NotificationFormat;
  secret: string;
  tenant: string | null;
  created_at: string;
}

const COLUMNS = `id, url, filter, format, secret, tenant,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

const toSubscription = (row: Row): SubscriptionWithSecret => ({
  id: row.id,
  url: row.url,
  filter: typeof row.filter === 'string' ? (JSON.parse(row.filter) as NotificationFilter) : row.filter,
  format: row.format,
  secret: row.secret,
  tenant: row.tenant ?? undefined,
  createdAt: row.created_at,
});

/** Strips the secret and masks the URL's query values and credentials (only deliveries use it whole). */
export const publicView = ({ id, url, filter, format, createdAt }: Subscription): Subscription => ({
  id,
  url: maskUrl(url),
  filter,
  format,
  createdAt,
});

export interface SubscriptionStore {
  create(
    sql: Sql,
    subscription: {
      id: string;
      url: string;
      filter: NotificationFilter;
      format: NotificationFormat;
      secret: string;
      tenant: string | undefined;
    },
  ): Promise<Subscription>;
  /** `scope`: only that tenant's subscriptions (a caller's), else every tenant's (the consumer's). */
  list(sql: Sql, scope?: TenantScope): Promise<SubscriptionWithSecret[]>;
  /** `scope`: undefined when the subscription is another tenant's (a caller never learns it exists). */
  get(sql: Sql, id: string, scope?: TenantScope): Promise<SubscriptionWithSecret | undefined>;
  /**
   * Replaces the secret; the one it replaces keeps signing beside it for `previousTtlSeconds` (0: not at
   * all), timed by the database's clock. While an earlier rotation's grace period runs, a rotation with
   * a grace period of its own would drop that earlier secret early: it is refused (`pending`).
   */
  rotateSecret(
    sql: Sql,
    id: string,
    secret: string,
    previousTtlSeconds: number,
  ): Promise<
    { readonly rotated: true; readonly previousExpiresAt: string | null } | { readonly rotated: false }
  >;
  /** Deletes the subscription and its undelivered deliveries; false when there was none. */
  remove(sql: Sql, id: string): Promise<boolean>;
}

export const createSubscriptionStore = (tables: Tables): SubscriptionStore => ({
  async create(sql, subscription) {
    const { rows } = await sql.query<Row>(
      `INSERT INTO ${tables.subscriptions} (id, url, filter, secret, format, tenant)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6) RETURNING ${COLUMNS}`,
      [
        subscription.id,
        subscription.url,
        JSON.stringify(subscription.filter),
        subscription.secret,
        subscription.format,
        subscription.tenant ?? null,
      ],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('subscription insert returned no row');
    return publicView(toSubscription(row));
  },
  async list(sql, scope) {
    const { rows } = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${tables.subscriptions} WHERE ${tenantColumnCondition('tenant', '$1')}
       ORDER BY created_at, id`,
      [tenantColumnValue(scope)],
    );
    return rows.map(toSubscription);
  },
  async get(sql, id, scope) {
    const { rows } = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${tables.subscriptions} WHERE id = $1 AND ${tenantColumnCondition('tenant', '$2')}`,
      [id, tenantColumnValue(scope)],
    );
    const row = rows[0];
    return row === undefined ? undefined : toSubscription(row);
  },
  async rotateSecret(sql, id, secret, previousTtlSeconds) {
    const { rows } = await sql.query<{ expires_at: string | null }>(
      `UPDATE ${tables.subscriptions}
       SET previous_secret = CASE WHEN $3::int > 0 THEN secret END,
           previous_secret_expires_at =
             CASE WHEN $3::int > 0 THEN clock_timestamp() + $3::int * interval '1 second' END,
           secret = $2
       WHERE id = $1
         AND ($3::int = 0 OR previous_secret_expires_at IS NULL OR previous_secret_expires_at <= clock_timestamp())
       RETURNING to_char(previous_secret_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
         AS expires_at`,
      [id, secret, previousTtlSeconds],
    );
    const row = rows[0];
    return row === undefined ? { rotated: false } : { rotated: true, previousExpiresAt: row.expires_at };
  },
  async remove(sql, id) {
    const { rowCount } = await sql.query(`DELETE FROM ${tables.subscriptions} WHERE id = $1`, [id]);
    return rowCount > 0;
  },
});
