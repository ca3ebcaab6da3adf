import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMemoryBus } from '@concord/bus';
import { waitFor } from '@concord/bus/testing';
import { canonicalJson, silentLogger } from '@concord/core';
import { fullTopology } from '@concord/core/messages';
import { orderWrites } from '@concord/core/strategy';
import { formatHlc } from '@concord/core/versions';
import type { JsonValue } from '@concord/core';
import type { FieldVersion } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import { manualClock } from '@concord/core/testing';
import { createIngestModule } from '@concord/ingest';
import { baseMigrations, createEventStore } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { createPostgresBackend, createProjectorModule, projectorMigrations } from '@concord/projector';
import { createResolverModule, openPolicySource, resolverMigrations } from '@concord/resolver';
import type { ResolverModule } from '@concord/resolver';
import { createMetrics, createRelayModule, runService } from '@concord/service-kit';
import type { RunningService } from '@concord/service-kit';

/**
 * Issue 18 item 2, as a property: random histories of concurrent writers (with and without their own
 * clocks), conflicts under every strategy, reviews decided by a person or by their timeout, provisional
 * values later rejected, all driven through ingest, the resolver and the projector on Postgres. After
 * each history the rebuilt projection equals the live one, and every field is credited to the event
 * whose value it holds, with that event's clocks, origin and source.
 */

// One rule per field, so a conflict's strategy follows from the fields it overlaps on.
const POLICY = `version: '1.0'
name: provenance
settings: { default_fallback: last_write_wins }
rules:
  - name: review-amount
    priority: 50
    conditions: { fields: [amount] }
    resolution: { strategy: manual_review, options: { provisional: last_write_wins, timeout: 1h } }
  - name: review-deposit
    priority: 40
    conditions: { fields: [deposit] }
    resolution:
      strategy: manual_review
      options: { provisional: last_write_wins, timeout: 1h, on_timeout: reject }
  - name: review-budget
    priority: 30
    conditions: { fields: [budget] }
    resolution: { strategy: manual_review, options: { timeout: 1h, on_timeout: first_write_wins } }
  - name: frozen
    priority: 20
    conditions: { fields: [frozen] }
    resolution: { strategy: reject }
  - name: tags
    priority: 10
    conditions: { fields: [tags] }
    resolution: { strategy: additive_merge }
  - name: note
    conditions: { fields: [note] }
    resolution: { strategy: first_write_wins }
  - name: score
    conditions: { fields: [score] }
    resolution: { strategy: field_merge, options: { fields: { score: max } } }
  - name: status
    conditions: { fields: [status] }
    resolution: { strategy: state_machine, options: { field: status, order: [open, doing, done] } }
  - name: owner
    conditions: { fields: [owner] }
    resolution: { strategy: prefer_source, options: { order: [erp, mobile] } }
`;

const FIELDS = [
  'title',
  'note',
  'tags',
  'score',
  'status',
  'owner',
  'amount',
  'deposit',
  'budget',
  'frozen',
] as const;
type Field = (typeof FIELDS)[number];
const STATES = ['open', 'doing', 'done'];
const WRITERS = [
  { origin: 'phone', source: 'mobile' },
  { origin: 'erp-1', source: 'erp' },
  { origin: 'web', source: undefined },
] as const;

/** A record as `GET /v1/aggregates/:type/:id` serves it. */
interface Projection {
  readonly version: number;
  readonly fields: Record<string, JsonValue>;
  readonly fieldVersions: Record<string, FieldVersion>;
}

type Step =
  | {
      readonly kind: 'write';
      readonly writer: number;
      readonly fields: readonly number[];
      /** How many versions behind the aggregate the writer is (0: up to date). */
      readonly behind: number;
      /** Offset of the writer's own HLC from the server clock; none: no client HLC. */
      readonly clientHlc: number | undefined;
      readonly state: number;
      readonly tick: number;
    }
  | { readonly kind: 'decide'; readonly pick: number; readonly choose: 'local' | 'remote' }
  | { readonly kind: 'timeout' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      writer: fc.nat({ max: WRITERS.length - 1 }),
      // Indices into the history's pool of fields (few, so that concurrent writes overlap).
      fields: fc.subarray([0, 1, 2], { minLength: 1, maxLength: 2 }),
      behind: fc.integer({ min: 0, max: 2 }),
      clientHlc: fc.option(fc.integer({ min: -5_000, max: 5_000 }), { nil: undefined }),
      state: fc.nat({ max: STATES.length - 1 }),
      tick: fc.nat({ max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      pick: fc.nat(),
      choose: fc.constantFrom('local' as const, 'remote' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('timeout' as const) }) },
);

describe('exact provenance over random histories (issue 18)', () => {
  let t: TestDatabase;
  let service: RunningService;
  let resolver: ResolverModule;
  let dir: string;
  const clock = manualClock(Date.UTC(2031, 0, 1));
  const store = createEventStore();
  let run = 0;

  beforeAll(async () => {
    t = await createTestDatabase({
      adminUrl: inject('DATABASE_URL'),
      sets: [...baseMigrations, resolverMigrations, projectorMigrations],
    });
    dir = await mkdtemp(join(tmpdir(), 'concord-provenance-'));
    await writeFile(join(dir, 'policy.yaml'), POLICY);
    const policy = await openPolicySource({
      path: join(dir, 'policy.yaml'),
      logger: silentLogger,
      pollIntervalMs: 3_600_000,
    });
    const metrics = createMetrics('provenance');
    const bus = createMemoryBus();
    await bus.declare(fullTopology());
    const db = t.db;
    resolver = createResolverModule({
      db,
      bus,
      logger: silentLogger,
      metrics,
      policy,
      clock,
      sweepIntervalMs: 3_600_000,
    });
    service = await runService({
      service: 'provenance',
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      metrics,
      modules: [
        createIngestModule({
          db,
          bus,
          logger: silentLogger,
          registry: metrics.registry,
          clock,
          options: { admission: false, groupCommit: { lingerMs: 0 }, hlcNode: 'ingest-p' },
        }),
        resolver,
        createProjectorModule({
          db,
          bus,
          logger: silentLogger,
          metrics,
          backends: [createPostgresBackend({})],
        }),
        createRelayModule({ db, bus, logger: silentLogger, metrics, relay: { pollIntervalMs: 20 } }),
      ],
      checks: [],
      clients: [],
      handleSignals: false,
      exit: () => undefined,
    });
  });
  afterAll(async () => {
    await service?.shutdown();
    await t?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const http = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    return { status: response.status, body: await response.json() };
  };

  /** `GET /v1/aggregates/task/:id`, the projected record. */
  const projection = async (id: string): Promise<Projection | undefined> => {
    const response = await http('GET', `/v1/aggregates/task/${id}`);
    return response.status === 200 ? (response.body as Projection) : undefined;
  };

  /** The aggregate, its projection and every event on it are settled: nothing is left to decide or project. */
  const settled = async (id: string) => {
    const check = async () => {
      const open = await t.db.query(
        `SELECT 1 FROM concord.events WHERE aggregate_id = $1 AND outcome = 'conflict' LIMIT 1`,
        [id],
      );
      if (open.rows.length > 0) return undefined;
      const state = await store.getAggregate(t.db, 'task', id);
      const projected = await projection(id);
      return projected !== undefined && projected.version === state?.version ? projected : undefined;
    };
    try {
      return await waitFor(`aggregate ${id} settled`, check, 10_000);
    } catch (error) {
      const { rows } = await t.db.query(
        `SELECT event_id, outcome, version, details FROM concord.events WHERE aggregate_id = $1 ORDER BY position`,
        [id],
      );
      throw new Error(
        `${String(error)}: events ${JSON.stringify(rows)}, projected ${JSON.stringify(await projection(id))}`,
      );
    }
  };

  const valueOf = (field: Field, eventId: string, step: Extract<Step, { kind: 'write' }>): JsonValue => {
    if (field === 'tags') return [eventId];
    if (field === 'score') return run * 1000 + Number(eventId.split('-').at(-1));
    if (field === 'status') return STATES[step.state] ?? 'open';
    return `${field}:${eventId}`;
  };

  const playHistory = async (pool: readonly Field[], steps: readonly Step[]) => {
    run += 1;
    const id = `task-p${run}-${Date.now().toString(36)}`;
    const written = new Map<string, EventEnvelope>();
    let n = 0;
    const write = async (step: Extract<Step, { kind: 'write' }>, fields: readonly (Field | undefined)[]) => {
      const state = await store.getAggregate(t.db, 'task', id);
      const version = state?.version ?? 0;
      const eventId = `${id}-${n++}`;
      const writer = WRITERS[step.writer] ?? WRITERS[0];
      clock.advance(step.tick);
      const event: EventEnvelope = {
        id: eventId,
        type: 'TaskUpdated',
        aggregateType: 'task',
        aggregateId: id,
        ...(version === 0 ? {} : { baseVersion: Math.max(1, version - step.behind) }),
        ...(step.clientHlc === undefined
          ? {}
          : { hlc: formatHlc({ wall: clock.now() + step.clientHlc, logical: 0, node: writer.origin }) }),
        origin: writer.origin,
        data: Object.fromEntries(
          fields.flatMap((f) => (f === undefined ? [] : [[f, valueOf(f, eventId, step)]])),
        ),
        ...(writer.source === undefined ? {} : { metadata: { source: writer.source } }),
      };
      const response = await http('POST', '/v1/events', { events: [event] });
      expect(response.status).toBe(200);
      written.set(eventId, event);
      await settled(id);
    };

    // The first write sets some fields only, so a later reject may take back a field nobody had set.
    await write(
      { kind: 'write', writer: 0, fields: [], behind: 0, clientHlc: undefined, state: 0, tick: 1 },
      ['title', 'tags', 'score', 'status', 'amount', 'deposit', 'budget', 'note'],
    );
    for (const step of steps) {
      if (step.kind === 'write') {
        await write(
          step,
          step.fields.map((i) => pool[i]),
        );
      } else if (step.kind === 'decide') {
        const { rows } = await t.db.query<{ conflict_id: string }>(
          `SELECT conflict_id FROM concord.conflicts WHERE aggregate_id = $1 AND status = 'pending_review'
           ORDER BY conflict_id`,
          [id],
        );
        const review = rows[step.pick % Math.max(1, rows.length)];
        if (review === undefined) continue;
        const decided = await http('POST', `/v1/conflicts/${review.conflict_id}/decision`, {
          choose: step.choose,
          userId: 'reviewer',
        });
        expect(decided.status).toBe(200);
        await settled(id);
      } else {
        clock.advance(2 * 3_600_000);
        await resolver.sweep();
        await settled(id);
      }
    }
    return { id, written };
  };

  /** Every field is credited to a submitted event that wrote its value, with that event's clocks and origin. */
  const checkProvenance = async (record: Projection, written: ReadonlyMap<string, EventEnvelope>) => {
    for (const [field, value] of Object.entries(record.fields)) {
      const fv = record.fieldVersions[field];
      expect(fv, `field version of ${field}`).toBeDefined();
      const eventId = fv?.eventId ?? '';
      if (eventId.endsWith(':resolution')) {
        // Only a reject taking back a field nobody had set leaves a value no event wrote: null.
        expect(value, `${field} credited to ${eventId}`).toBeNull();
        continue;
      }
      const event = written.get(eventId);
      expect(event, `${field} is credited to ${eventId}, not a submitted event`).toBeDefined();
      if (event === undefined) continue;
      const stored = await store.getEvent(t.db, eventId);
      const own = event.data[field];
      if (field === 'tags') {
        // A union is credited to the latest of the writes whose items it holds (by last_write_wins' order).
        const contributors = await Promise.all(
          (value as string[]).map(async (item) => {
            const write = written.get(item);
            const serverHlc = (await store.getEvent(t.db, item))?.event.serverHlc;
            return {
              eventId: item,
              ...(write?.hlc === undefined ? {} : { hlc: write.hlc }),
              ...(serverHlc === undefined ? {} : { serverHlc }),
              ...(write?.origin === undefined ? {} : { origin: write.origin }),
            };
          }),
        );
        const latest = contributors.reduce((a, b) => (orderWrites(b, a).cmp > 0 ? b : a));
        expect(eventId, `the union ${JSON.stringify(value)} is credited to its latest write`).toBe(
          latest.eventId,
        );
      } else
        expect(canonicalJson(value), `${field} holds ${eventId}'s value`).toBe(canonicalJson(own ?? null));
      expect({ hlc: fv?.hlc, serverHlc: fv?.serverHlc, origin: fv?.origin, source: fv?.source }).toEqual({
        hlc: event.hlc,
        serverHlc: stored?.event.serverHlc,
        origin: event.origin,
        source: event.metadata?.['source'],
      });
      expect(fv?.serverHlc, `${eventId} was stamped by ingest`).toMatch(/-ingest-p$/);
    }
  };

  it('without client clocks the write accepted last wins, and the explanation says so (w9, then w1)', async () => {
    const id = `task-w-${Date.now().toString(36)}`;
    const post = (eventId: string, data: Record<string, JsonValue>, baseVersion?: number) =>
      http('POST', '/v1/events', {
        events: [
          {
            id: eventId,
            type: 'TaskUpdated',
            aggregateType: 'task',
            aggregateId: id,
            ...(baseVersion === undefined ? {} : { baseVersion }),
            data,
          },
        ],
      });
    await post(`${id}-w0`, { title: 'zero' });
    clock.advance(1);
    await post(`${id}-w9`, { title: 'nine' }, 1);
    clock.advance(1);
    await post(`${id}-w1`, { title: 'one' }, 1);
    const live = await settled(id);
    expect(live.fields['title']).toBe('one');
    expect(live.fieldVersions['title']?.eventId).toBe(`${id}-w1`);
    const conflict = await http('GET', `/v1/conflicts/${id}-w1`);
    expect(JSON.stringify(conflict.body)).toContain('remote write is accepted later (server HLCs)');
  });

  it('rebuild equals live, and every field is credited to the event whose value it holds', async () => {
    const histories: { id: string; written: ReadonlyMap<string, EventEnvelope> }[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray([...FIELDS], { minLength: 3, maxLength: 3 }),
        fc.array(stepArb, { minLength: 4, maxLength: 10 }),
        async (pool, steps) => {
          const played = await playHistory(pool, steps);
          histories.push(played);
          const live = await settled(played.id);
          const state = await store.getAggregate(t.db, 'task', played.id);
          expect(live.fieldVersions).toEqual(state?.fieldVersions);
          await checkProvenance(live, played.written);
        },
      ),
      {
        numRuns: 20,
        endOnFailure: true,
        // Always tried: a person restores the current value over a provisional one, and a timeout
        // rejects a provisional apply (the losing event must not be credited with either).
        examples: [
          [
            ['amount', 'deposit', 'title'],
            [
              { kind: 'write', writer: 1, fields: [0], behind: 0, clientHlc: undefined, state: 0, tick: 1 },
              { kind: 'write', writer: 2, fields: [0], behind: 1, clientHlc: undefined, state: 0, tick: 1 },
              { kind: 'decide', pick: 0, choose: 'local' },
              { kind: 'write', writer: 0, fields: [1], behind: 0, clientHlc: undefined, state: 0, tick: 1 },
              {
                kind: 'write',
                writer: 1,
                fields: [1, 2],
                behind: 1,
                clientHlc: undefined,
                state: 0,
                tick: 1,
              },
              { kind: 'timeout' },
            ],
          ],
        ],
      },
    );

    // The histories did what they are for: conflicts decided by the policy, by a person and by a timeout.
    const { rows: deciders } = await t.db.query<{ decided_by: string; n: number }>(
      `SELECT decided_by, count(*)::int AS n FROM concord.resolution_ledger GROUP BY decided_by`,
    );
    expect(deciders.map((d) => d.decided_by).sort()).toEqual(['human', 'policy', 'timeout']);
    expect(deciders.reduce((n, d) => n + d.n, 0)).toBeGreaterThan(15);

    const before = new Map<string, Projection | undefined>();
    for (const { id } of histories) before.set(id, await projection(id));
    const rebuild = await http('POST', '/v1/projections/rebuild', {});
    expect(rebuild.status).toBe(200);
    for (const { id } of histories) {
      const rebuilt = await projection(id);
      const live = before.get(id);
      expect(live).toBeDefined();
      expect({
        version: rebuilt?.version,
        fields: rebuilt?.fields,
        fieldVersions: rebuilt?.fieldVersions,
      }).toEqual({
        version: live?.version,
        fields: live?.fields,
        fieldVersions: live?.fieldVersions,
      });
    }
  });
});
