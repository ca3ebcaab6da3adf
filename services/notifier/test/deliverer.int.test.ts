import { Topics } from '@concord/core/messages';
import type { Database } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createMetrics } from '@concord/service-kit';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCircuitBreakers } from '../src/delivery/breakers.js';
import { createDeliverer } from '../src/delivery/deliverer.js';
import type { Deliverer } from '../src/delivery/deliverer.js';
import type { WebhookRequest } from '../src/delivery/http-sender.js';
import { createNotifierMetrics } from '../src/metrics.js';
import { createDeliveryStore, deliveryId } from '../src/store/deliveries.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { createNotificationLog } from '../src/store/log.js';
import { tablesFor } from '../src/store/tables.js';
import { delay, unique, waitFor } from './support/harness.js';

/** The database with every statement noted, and a hook that may hold or fail one before it runs. */
const watchedDatabase = (db: Database) => {
  const statements: string[] = [];
  const watched = {
    statements,
    before: (_text: string): Promise<void> => Promise.resolve(),
    db: new Proxy(db, {
      get(target, property, receiver) {
        if (property === 'query')
          return async (text: string, params?: unknown[]) => {
            statements.push(text);
            await watched.before(text);
            return target.query(text, params);
          };
        return Reflect.get(target, property, receiver) as unknown;
      },
    }),
  };
  return watched;
};

const isMark = (text: string) => /SET status = 'delivered'/.test(text);

describe('the deliverer', () => {
  let database: TestDatabase;
  let deliverer: Deliverer | undefined;
  const tables = () => tablesFor(database.schema);

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
  });

  afterEach(async () => {
    await deliverer?.close();
    deliverer = undefined;
  });

  afterAll(async () => {
    await database?.close();
  });

  /** `count` notifications, each with a queued delivery to one new subscription: their job data. */
  const queuedDeliveries = async (count: number): Promise<DeliveryRef[]> => {
    const subscriptionId = `sub-${unique()}`;
    await database.db.query(
      `INSERT INTO ${tables().subscriptions} (id, url, secret) VALUES ($1, 'http://hooks.test/in', 'secret-0123')`,
      [subscriptionId],
    );
    const log = createNotificationLog(tables());
    const deliveries = createDeliveryStore(tables());
    const stored = await database.db.withTransaction(async (tx) => {
      const notifications = await log.appendMany(
        tx,
        Array.from({ length: count }, (_, i) => ({
          kind: 'applied' as const,
          topic: Topics.applied,
          messageId: `${subscriptionId}-${i}:applied`,
          eventId: `${subscriptionId}-${i}`,
          aggregateType: 'task',
          aggregateId: 'task-1',
          data: { n: i },
        })),
      );
      const ids = notifications.map((n) => n?.id ?? '');
      await deliveries.insertMany(
        tx,
        ids.map((notificationId) => ({ notificationId, subscriptionId })),
      );
      return ids;
    });
    await database.db.query(
      `UPDATE ${tables().deliveries} SET status = 'queued' WHERE subscription_id = $1`,
      [subscriptionId],
    );
    return stored.map((notificationId) => ({
      deliveryId: deliveryId(notificationId, subscriptionId),
      notificationId,
      subscriptionId,
    }));
  };

  const rowsOf = async (refs: readonly DeliveryRef[]) =>
    (
      await database.db.query<{ id: string; status: string; attempts: number; last_status: number | null }>(
        `SELECT id, status, attempts, last_status FROM ${tables().deliveries} WHERE id = ANY($1::text[]) ORDER BY id`,
        [refs.map((ref) => ref.deliveryId)],
      )
    ).rows;

  const start = (db: Database, send: (request: WebhookRequest) => Promise<{ status: number }>) => {
    deliverer = createDeliverer({
      db,
      deliveries: createDeliveryStore(tables()),
      breakers: createCircuitBreakers({ failureThreshold: 1_000, halfOpenAfterMs: 1_000 }),
      send,
      metrics: createNotifierMetrics(createMetrics('notifier').registry),
      timeoutMs: 1_000,
    });
    return deliverer;
  };

  const attempt = (handlers: Deliverer, ref: DeliveryRef) =>
    handlers.handler({ id: ref.deliveryId, data: ref }, { attempt: 1, maxAttempts: 3 });

  it('shares one read and one mark between concurrent attempts, each delivery sent and recorded', async () => {
    const refs = await queuedDeliveries(20);
    const watched = watchedDatabase(database.db);
    const sent: string[] = [];
    const handlers = start(watched.db, async (request) => {
      sent.push(request.headers['webhook-id'] ?? '');
      await delay(5);
      return { status: 204 };
    });
    await Promise.all(refs.map((ref) => attempt(handlers, ref)));

    expect(sent.sort()).toEqual(refs.map((ref) => ref.deliveryId).sort());
    expect((await rowsOf(refs)).map((row) => [row.status, row.attempts, row.last_status])).toEqual(
      refs.map(() => ['delivered', 1, 204]),
    );
    // One statement per attempt for each of the target, the notification and the mark was 60.
    expect(watched.statements.length).toBeLessThanOrEqual(4);
  });

  it('completes an attempt only once its delivery is recorded delivered', async () => {
    const [ref] = await queuedDeliveries(1);
    if (ref === undefined) throw new Error('no delivery');
    const watched = watchedDatabase(database.db);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    watched.before = (text) => (isMark(text) ? held : Promise.resolve());
    const sent: string[] = [];
    const handlers = start(watched.db, (request) => {
      sent.push(request.headers['webhook-id'] ?? '');
      return Promise.resolve({ status: 200 });
    });
    let done = false;
    const running = attempt(handlers, ref).then(() => (done = true));
    await waitFor('the mark sent', () => watched.statements.some(isMark));
    await delay(50);
    expect(sent).toEqual([ref.deliveryId]);
    expect(done).toBe(false);
    expect((await rowsOf([ref]))[0]?.status).toBe('queued');
    release();
    await running;
    expect((await rowsOf([ref]))[0]?.status).toBe('delivered');
  });

  it('fails every attempt whose mark failed, so each is retried (sent again) rather than lost', async () => {
    const refs = await queuedDeliveries(3);
    const watched = watchedDatabase(database.db);
    let failing = true;
    watched.before = (text) =>
      failing && isMark(text) ? Promise.reject(new Error('database unavailable')) : Promise.resolve();
    const handlers = start(watched.db, async () => {
      await delay(5);
      return { status: 200 };
    });
    const results = await Promise.allSettled(refs.map((ref) => attempt(handlers, ref)));
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((await rowsOf(refs)).map((row) => row.status)).toEqual(['queued', 'queued', 'queued']);

    failing = false;
    await Promise.all(refs.map((ref) => attempt(handlers, ref)));
    expect((await rowsOf(refs)).map((row) => row.status)).toEqual(['delivered', 'delivered', 'delivered']);
  });
});
