import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { createMemoryBus, decodeJson } from '@concord/bus';
import { canonicalJson, silentLogger } from '@concord/core';
import { applyPatch } from '@concord/core/conflict';
import { formatHlc } from '@concord/core/versions';
import type { AggregateState } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import { manualClock } from '@concord/core/testing';
import type { ManualClock } from '@concord/core/testing';
import { baseMigrations, createEventStore } from '@concord/outbox';
import type { Database, EventStore } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createMetrics, runService } from '@concord/service-kit';
import type { HttpAccess, RunningService, ServiceMetrics } from '@concord/service-kit';
import { createResolverModule, openPolicySource, resolverMigrations } from '../../src/index.js';
import { createRelayModule } from '@concord/service-kit';
import type { PolicySource, ResolverModule } from '../../src/index.js';

/** The shared test helpers (one definition, in `@concord/bus/testing`). */
import { unique, waitFor } from '@concord/bus/testing';

export { unique, waitFor };

export const TEST_POLICY = `version: '1.0'
name: test-policy
settings: { default_fallback: last_write_wins }
rules:
  - name: frozen-read-only
    priority: 10
    conditions: { metadata: { frozen: 'true' } }
    resolution: { strategy: reject, options: { reason: aggregate is frozen } }
  - name: review-amount
    conditions: { fields: [amount] }
    resolution: { strategy: manual_review, options: { provisional: last_write_wins, timeout: 1h } }
  - name: review-budget
    conditions: { fields: [budget] }
    resolution:
      strategy: manual_review
      options: { timeout: 30m, on_timeout: first_write_wins, escalate_to: finance }
  - name: review-deposit
    conditions: { fields: [deposit] }
    resolution:
      strategy: manual_review
      options: { provisional: last_write_wins, timeout: 1h, on_timeout: reject }
  - name: tags-union
    conditions: { fields: [tags] }
    resolution: { strategy: additive_merge }
`;

export const hlc = (wall: number, node = 'n'): string => formatHlc({ wall, logical: 0, node });

/** Outbox rows as [topic, message id] pairs. */
export const topicsOf = (rows: readonly { topic: string; message_id: string }[]): string[][] =>
  rows.map((r) => [r.topic, r.message_id]);

/** A `TaskUpdated` event of the task `aggregateId`. */
export const ev = (
  aggregateId: string,
  partial: Partial<EventEnvelope> & { id: string; data: EventEnvelope['data'] },
): EventEnvelope => ({ type: 'TaskUpdated', aggregateType: 'task', aggregateId, ...partial });

type Write = Omit<Partial<EventEnvelope>, 'id' | 'baseVersion'> & { data: EventEnvelope['data'] };

/**
 * Three events of the task `id`: `<id>-1` creates it; `<id>-2` and `<id>-3` both edit version 1, so
 * appended in this order `<id>-3` conflicts with `<id>-2`.
 */
export const conflictingWrites = (id: string, first: Write, second: Write, third: Write): EventEnvelope[] => [
  ev(id, { ...first, id: `${id}-1` }),
  ev(id, { ...second, id: `${id}-2`, baseVersion: 1 }),
  ev(id, { ...third, id: `${id}-3`, baseVersion: 1 }),
];

/** A conflict on `title`: titles a, b and c in HLC order, `<id>-2` and `<id>-3` both based on version 1. */
export const titleConflict = (id: string): EventEnvelope[] =>
  conflictingWrites(
    id,
    { data: { title: 'a' }, hlc: hlc(1) },
    { data: { title: 'b' }, hlc: hlc(2) },
    { data: { title: 'c' }, hlc: hlc(3) },
  );

/**
 * A conflict on `amount`, which TEST_POLICY sends to manual review with last_write_wins applied
 * provisionally: amounts 10, 20 and then `<id>-3`'s (30 unless given), in HLC order.
 */
export const amountConflict = (id: string, third: EventEnvelope['data'] = { amount: 30 }): EventEnvelope[] =>
  conflictingWrites(
    id,
    { data: { amount: 10 }, hlc: hlc(1) },
    { data: { amount: 20 }, hlc: hlc(2) },
    { data: third, hlc: hlc(3) },
  );

/**
 * A conflict on `budget`, which TEST_POLICY sends to manual review escalating to first_write_wins after
 * 30 minutes, nothing applied meanwhile. `<id>-3` (budget 3) was written before `<id>-2` (earlier HLC)
 * and arrived after it, so the escalation picks it.
 */
export const budgetConflict = (id: string): EventEnvelope[] =>
  conflictingWrites(
    id,
    { data: { budget: 1 }, hlc: hlc(10) },
    { data: { budget: 2 }, hlc: hlc(30) },
    { data: { budget: 3 }, hlc: hlc(20) },
  );

/**
 * A conflict on `deposit`, which TEST_POLICY sends to manual review with last_write_wins applied
 * provisionally and a rejection after an hour: deposits 1, 2 and then `<id>-3`'s, in HLC order, the
 * first with a `memo` `<id>-3` changes too.
 */
export const depositConflict = (id: string, third: EventEnvelope['data']): EventEnvelope[] =>
  conflictingWrites(
    id,
    { data: { deposit: 1, memo: 'first' }, hlc: hlc(1) },
    { data: { deposit: 2 }, hlc: hlc(2) },
    { data: third, hlc: hlc(3) },
  );

export interface OutboxRow {
  readonly message_id: string;
  readonly topic: string;
  readonly key: string;
  readonly payload: Uint8Array;
  readonly headers: Record<string, string>;
}

/** A migrated database, the event store, a policy file, and the resolver module with an HTTP server. */
export interface Harness {
  readonly t: TestDatabase;
  readonly db: Database;
  readonly store: EventStore;
  readonly clock: ManualClock;
  readonly policyFile: string;
  readonly policy: PolicySource;
  readonly module: ResolverModule;
  readonly metrics: ServiceMetrics;
  readonly bus: MessageBus;
  readonly service: RunningService;
  /** Appends events through the event store (as ingest does). */
  append(events: readonly EventEnvelope[]): Promise<void>;
  /** The `concord.conflicts.detected` message ingest's append wrote for `eventId`, as the bus delivers it. */
  detected(eventId: string): Promise<IncomingMessage>;
  outboxFor(prefix: string): Promise<(OutboxRow & { body: Record<string, unknown> })[]>;
  ledger(conflictId: string): Promise<Record<string, unknown>[]>;
  /** Replays the pull feed for one aggregate: the state a sync client ends up with. */
  replay(aggregateType: string, aggregateId: string): Promise<AggregateState | undefined>;
  /**
   * The replayed fields once they equal the aggregate's. The feed reads below the cluster's oldest open
   * transaction, so other work on a shared server may hold it back for a moment; fails after a deadline.
   */
  replayed(aggregateType: string, aggregateId: string): Promise<Record<string, unknown>>;
  // Response bodies are whatever JSON the endpoint returned; tests assert on their shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  http(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export const createHarness = async (
  adminUrl: string,
  options: { relay?: boolean; sweepIntervalMs?: number; access?: HttpAccess } = {},
): Promise<Harness> => {
  // The tables the resolver creates and no others, as in its own deployment.
  const t = await createTestDatabase({ adminUrl, sets: [...baseMigrations, resolverMigrations] });
  const db = t.db;
  const clock = manualClock(Date.UTC(2030, 0, 1));
  const store = createEventStore({ now: () => clock.now() });
  const dir = await mkdtemp(join(tmpdir(), 'concord-resolver-'));
  const policyFile = join(dir, 'policy.yaml');
  await writeFile(policyFile, TEST_POLICY);
  const policy = await openPolicySource({
    path: policyFile,
    logger: silentLogger,
    pollIntervalMs: 3_600_000,
  });
  const metrics = createMetrics('resolver-test');
  const bus = createMemoryBus();
  const module = createResolverModule({
    db,
    bus,
    logger: silentLogger,
    metrics,
    policy,
    clock,
    sweepIntervalMs: options.sweepIntervalMs ?? 3_600_000,
    retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
  });
  const modules = [module];
  if (options.relay === true) {
    modules.push(
      createRelayModule({ db, bus, logger: silentLogger, metrics, relay: { pollIntervalMs: 50 } }) as never,
    );
  }
  const service = await runService({
    service: 'resolver-test',
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    metrics,
    modules,
    checks: [],
    clients: [],
    handleSignals: false,
    exit: () => undefined,
    ...(options.access === undefined ? {} : { access: options.access }),
  });

  const outboxFor: Harness['outboxFor'] = async (prefix) => {
    const { rows } = await db.query<OutboxRow>(
      `SELECT message_id, topic, key, payload, headers FROM concord.outbox WHERE message_id LIKE $1 ORDER BY id`,
      [`${prefix}%`],
    );
    return rows.map((row) => ({ ...row, body: decodeJson(row.payload) as Record<string, unknown> }));
  };

  const replay: Harness['replay'] = async (aggregateType, aggregateId) => {
    let state: AggregateState | undefined;
    let after: string | undefined;
    for (;;) {
      const page = await store.feed(db, after === undefined ? { limit: 1000 } : { after, limit: 1000 });
      for (const e of page.events) {
        if (e.event.aggregateType === aggregateType && e.event.aggregateId === aggregateId)
          state = applyPatch(state, e.event);
      }
      if (page.events.length === 0) return state;
      after = page.next;
    }
  };

  return {
    t,
    db,
    store,
    clock,
    policyFile,
    policy,
    module,
    metrics,
    bus,
    service,
    async append(events) {
      await db.withTransaction((tx) => store.append(tx, events));
    },
    async detected(eventId) {
      const [row] = (await outboxFor(`${eventId}:conflict`)).filter(
        (r) => r.topic === 'concord.conflicts.detected',
      );
      if (row === undefined) throw new Error(`no conflict message for ${eventId}`);
      return {
        id: row.message_id,
        topic: row.topic,
        key: row.key,
        payload: row.payload,
        headers: { ...row.headers, 'message-id': row.message_id },
        attempt: 1,
      };
    },
    outboxFor,
    async ledger(conflictId) {
      const { rows } = await db.query(
        `SELECT id::float8 AS id, outcome, final, provisional, decided_by, user_id, strategy, rule,
           version::float8 AS version, record
         FROM concord.resolution_ledger WHERE conflict_id = $1 ORDER BY id`,
        [conflictId],
      );
      return rows;
    },
    replay,
    async replayed(aggregateType, aggregateId) {
      const aggregate = await store.getAggregate(db, aggregateType, aggregateId);
      const expected = canonicalJson(aggregate?.fields ?? {});
      let last: AggregateState | undefined;
      try {
        return await waitFor(
          'the feed to replay to the aggregate',
          async () => {
            last = await replay(aggregateType, aggregateId);
            return canonicalJson(last?.fields ?? {}) === expected ? (last?.fields ?? {}) : undefined;
          },
          10_000,
        );
      } catch {
        return last?.fields ?? {};
      }
    },
    async http(method, path, body) {
      const response = await fetch(`${service.url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      const text = await response.text();
      return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
    },
    async close() {
      await service.shutdown();
      await bus.close();
      await t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};
