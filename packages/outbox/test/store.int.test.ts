import type { EventEnvelope } from '@concord/core/envelope';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createEventStore, createOutbox, createResolutionStore } from '../src/index.js';
import type { Database, Tx } from '../src/index.js';
import { createPgliteTestDatabase, createTestDatabase } from '../src/testing/index.js';
import type { TestDatabase } from '../src/testing/index.js';
import { storeSql } from '../src/store/sql.js';
import { unique } from './helpers.js';

const store = createEventStore({ now: () => Date.UTC(2025, 0, 1) });

const ev = (partial: Partial<EventEnvelope> & { aggregateId: string }): EventEnvelope => ({
  id: `e-${unique()}`,
  type: 'TaskUpdated',
  aggregateType: 'task',
  data: { title: 'x' },
  ...partial,
});

const outboxTopics = async (db: Database) => {
  const { rows } = await db.query<{ topic: string; key: string; message_id: string }>(
    'SELECT topic, key, message_id FROM concord.outbox ORDER BY id',
  );
  return rows;
};

const suite = (name: string, open: () => Promise<TestDatabase>, opts: { concurrent: boolean }) =>
  describe(`event store on ${name}`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await open();
    });
    afterAll(() => t.close());

    it('applies, merges, conflicts, supersedes and rejects as core classifies, with versions and outbox rows', async () => {
      const id = `task-${unique()}`;
      const results = await t.db.withTransaction((tx) =>
        store.append(tx, [
          ev({ id: `${id}-1`, aggregateId: id, data: { title: 'a', done: false } }),
          ev({ id: `${id}-2`, aggregateId: id, baseVersion: 1, data: { title: 'b' } }),
          ev({ id: `${id}-3`, aggregateId: id, baseVersion: 1, data: { done: true } }),
          ev({ id: `${id}-4`, aggregateId: id, baseVersion: 1, data: { title: 'c' } }),
          ev({ id: `${id}-5`, aggregateId: id, baseVersion: 9, data: { title: 'd' } }),
        ]),
      );
      expect(results.map((r) => [r.outcome, r.version])).toEqual([
        ['applied', 1],
        ['applied', 2],
        ['merged', 3],
        ['conflict', 3],
        ['rejected', undefined],
      ]);
      expect(results[3]?.conflictId).toBe(`${id}-4`);
      expect(results[4]?.error?.code).toBe('CONCORD_CONFLICT_BASE_VERSION_AHEAD');
      const state = await store.getAggregate(t.db, 'task', id);
      expect(state).toMatchObject({ version: 3, fields: { title: 'b', done: true } });
      expect(state?.fieldVersions['done']).toMatchObject({ version: 3, eventId: `${id}-3` });
      const conflict = await store.getEvent(t.db, `${id}-4`);
      expect(conflict).toMatchObject({ outcome: 'conflict', conflictId: `${id}-4` });
      expect(conflict?.details).toMatchObject({ overlappingFields: ['title'] });
      const topics = (await outboxTopics(t.db)).filter((r) => r.message_id.startsWith(id));
      expect(topics.filter((r) => r.topic === 'concord.events.applied').map((r) => r.key)).toEqual([
        id,
        id,
        id,
      ]);
      expect(topics.filter((r) => r.topic === 'concord.conflicts.detected')).toHaveLength(1);
      expect(topics.filter((r) => r.topic === 'concord.events.outcome')).toHaveLength(5);
    });

    it('supersedes a dominated version vector and applies a dominating one', async () => {
      const id = `task-${unique()}`;
      const results = await t.db.withTransaction((tx) =>
        store.append(tx, [
          ev({ aggregateId: id, origin: 'a', clock: { a: 2 }, data: { title: 'a2' } }),
          ev({ aggregateId: id, origin: 'a', clock: { a: 1 }, data: { title: 'a1' } }),
          ev({ aggregateId: id, origin: 'b', clock: { a: 2, b: 1 }, data: { title: 'b1' } }),
        ]),
      );
      expect(results.map((r) => r.outcome)).toEqual(['applied', 'superseded', 'applied']);
      expect((await store.getAggregate(t.db, 'task', id))?.vector).toEqual({ a: 2, b: 1 });
    });

    it('is idempotent by event id: a duplicate returns the original outcome and writes nothing', async () => {
      const id = `task-${unique()}`;
      const first = ev({ aggregateId: id, data: { title: 'once' } });
      await t.db.withTransaction((tx) => store.append(tx, [first]));
      const before = (await outboxTopics(t.db)).length;
      const [again, inBatch] = await t.db.withTransaction((tx) =>
        store.append(tx, [{ ...first, data: { title: 'twice' } }, first]),
      );
      expect(again).toMatchObject({
        id: first.id,
        outcome: 'duplicate',
        originalOutcome: 'applied',
        version: 1,
      });
      expect(inBatch).toMatchObject({ outcome: 'duplicate', originalOutcome: 'applied' });
      expect((await outboxTopics(t.db)).length).toBe(before);
      expect((await store.getAggregate(t.db, 'task', id))?.fields).toEqual({ title: 'once' });
      const [dupInOne] = await t.db.withTransaction(async (tx) => {
        const e = ev({ aggregateId: id, data: { n: 1 } });
        return (await store.append(tx, [e, e])).slice(1);
      });
      expect(dupInOne).toMatchObject({ outcome: 'duplicate', originalOutcome: 'applied', version: 2 });
    });

    it('stores every outbox payload byte for byte, from the store and from outbox.add', async () => {
      const id = `task-${unique()}`;
      const events = [
        ev({ id: `${id}-1`, aggregateId: id, data: { title: 'naïve ✓ 😀' } }),
        ev({ id: `${id}-2`, aggregateId: id, baseVersion: 0, data: { title: 'b' } }),
      ];
      await t.db.withTransaction((tx) => store.append(tx, events));
      const payloads = [
        new Uint8Array(0),
        Uint8Array.from([0, 255, 92, 120, 34, 10]),
        new Uint8Array(70_000).fill(7),
      ];
      await t.db.withTransaction((tx) =>
        createOutbox().add(
          tx,
          payloads.map((payload, i) => ({ topic: 't', key: id, id: `${id}-raw-${i}`, payload })),
        ),
      );
      const { rows } = await t.db.query<{ message_id: string; payload: Uint8Array }>(
        'SELECT message_id, payload FROM concord.outbox WHERE message_id LIKE $1 ORDER BY id',
        [`${id}-%`],
      );
      const byId = new Map(rows.map((r) => [r.message_id, r.payload]));
      const json = (messageId: string): unknown => JSON.parse(new TextDecoder().decode(byId.get(messageId)));
      expect(json(`${id}-1:applied`)).toMatchObject({ eventId: `${id}-1`, changes: { title: 'naïve ✓ 😀' } });
      expect(json(`${id}-1:outcome:applied`)).toMatchObject({ kind: 'outcome', eventId: `${id}-1` });
      expect(json(`${id}-2:conflict`)).toMatchObject({ kind: 'conflict_detected' });
      expect(json(`${id}-2:outcome:conflict`)).toMatchObject({ kind: 'outcome', outcome: 'conflict' });
      payloads.forEach((payload, i) =>
        expect(Buffer.from(byId.get(`${id}-raw-${i}`) ?? [])).toEqual(Buffer.from(payload)),
      );
      expect(rows).toHaveLength(7);
    });

    it('rolls back the events with the outbox rows when the transaction fails', async () => {
      const id = `task-${unique()}`;
      await expect(
        t.db.withTransaction(async (tx) => {
          await store.append(tx, [ev({ aggregateId: id })]);
          throw new Error('caller failed');
        }),
      ).rejects.toThrow('caller failed');
      expect(await store.getAggregate(t.db, 'task', id)).toBeUndefined();
      expect((await outboxTopics(t.db)).some((r) => r.key === id)).toBe(false);
    });

    it('records later outcomes with history', async () => {
      const id = `task-${unique()}`;
      const e1 = ev({ aggregateId: id, data: { title: 'a' } });
      const e2 = ev({ aggregateId: id, baseVersion: 0, data: { title: 'b' } });
      await t.db.withTransaction((tx) => store.append(tx, [e1]));
      const [r2] = await t.db.withTransaction((tx) => store.append(tx, [{ ...e2, baseVersion: 0 }]));
      expect(r2?.outcome).toBe('conflict');
      const ok = await t.db.withTransaction((tx) =>
        store.recordOutcome(tx, {
          eventId: e2.id,
          outcome: 'resolved',
          version: 2,
          details: { rule: 'lww' },
        }),
      );
      expect(ok).toBe(true);
      const stored = await store.getEvent(t.db, e2.id);
      expect(stored).toMatchObject({ outcome: 'resolved', version: 2, details: { rule: 'lww' } });
      expect(stored?.history.map((h) => h.outcome)).toEqual(['conflict']);
      const [dup] = await t.db.withTransaction((tx) => store.append(tx, [e2]));
      expect(dup).toMatchObject({ outcome: 'duplicate', originalOutcome: 'resolved' });
    });

    it('serves one tenant’s feed (the default tenant’s: ids without a tenant), paging through the tenant index', async () => {
      const id = `task-${unique()}`;
      const scoped = (tenant: string, local: string) => `${tenant}\u001f${local}`;
      const start = (await store.feed(t.db, { limit: 1000 })).next;
      await t.db.withTransaction((tx) =>
        store.append(tx, [
          ev({ id: scoped('acme', `${id}-1`), aggregateId: scoped('acme', id) }),
          ev({ id: `${id}-1`, aggregateId: id }),
          ev({ id: scoped('globex', `${id}-1`), aggregateId: scoped('globex', id) }),
          ev({ id: scoped('acme', `${id}-2`), aggregateId: scoped('acme', `${id}-b`) }),
        ]),
      );
      const ids = async (tenant: string | undefined) => {
        const seen: string[] = [];
        let after = start;
        for (;;) {
          const page = await store.feed(t.db, { after, limit: 1, tenant: { tenant } });
          if (page.events.length === 0) return seen;
          seen.push(...page.events.map((e) => e.event.id));
          after = page.next;
        }
      };
      expect(await ids('acme')).toEqual([scoped('acme', `${id}-1`), scoped('acme', `${id}-2`)]);
      expect(await ids('globex')).toEqual([scoped('globex', `${id}-1`)]);
      // Other tests write the default tenant's events meanwhile: only this test's are compared.
      expect((await ids(undefined)).filter((seen) => seen.startsWith(id))).toEqual([`${id}-1`]);
      expect(await ids('initech')).toEqual([]);
      // The feed's tenant condition is the indexed expression: with scans off, the plan uses the index.
      const plan = await t.db.withTransaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        const { rows } = await tx.query<Record<string, string>>(
          `EXPLAIN ${storeSql('concord').feedOfTenant}`.replace(
            /\$(\d)/g,
            (_, n: string) => ["'0'", '0', '10', "'acme'"][Number(n) - 1] ?? '',
          ),
        );
        return rows.map((row) => Object.values(row)[0]).join('\n');
      });
      expect(plan).toContain('events_feed_by_tenant');
    });

    it('serves the pull feed in commit order with a cursor', async () => {
      const first = await store.feed(t.db, { limit: 1000 });
      const id = `task-${unique()}`;
      for (let i = 0; i < 5; i++) {
        await t.db.withTransaction((tx) =>
          store.append(tx, [ev({ id: `${id}-${i}`, aggregateId: id, data: { i } })]),
        );
      }
      const page1 = await store.feed(t.db, { after: first.next, limit: 3 });
      const page2 = await store.feed(t.db, { after: page1.next, limit: 3 });
      const page3 = await store.feed(t.db, { after: page2.next, limit: 3 });
      expect([...page1.events, ...page2.events].map((e) => e.event.id)).toEqual(
        [0, 1, 2, 3, 4].map((i) => `${id}-${i}`),
      );
      expect(page2.events.map((e) => e.version)).toEqual([4, 5]);
      expect(page3).toEqual({ events: [], next: page2.next });
      await expect(store.feed(t.db, { after: 'bogus!' })).rejects.toMatchObject({
        code: 'CONCORD_INVALID_CURSOR',
      });
      // A cursor of another database (this one restored from a backup, or replaced) names a transaction
      // this one has not reached: refused, rather than read as an empty feed forever.
      const ahead = Buffer.from('900000000000.1').toString('base64url');
      await expect(store.feed(t.db, { after: ahead })).rejects.toMatchObject({
        code: 'CONCORD_INVALID_CURSOR',
        details: { reason: 'ahead' },
      });
      // The last cursor this database issued reads an empty page, as before.
      expect((await store.feed(t.db, { after: page3.next })).events).toEqual([]);
    });

    if (opts.concurrent) {
      it('never skips an event whose transaction commits after later ones', async () => {
        const start = (await store.feed(t.db, { limit: 1000 })).next;
        let release: () => void = () => undefined;
        const held = new Promise<void>((resolve) => (release = resolve));
        const slowId = `slow-${unique()}`;
        const slow = t.db.withTransaction(async (tx) => {
          await store.append(tx, [ev({ id: slowId, aggregateId: slowId })]);
          await held;
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const fastId = `fast-${unique()}`;
        await t.db.withTransaction((tx) => store.append(tx, [ev({ id: fastId, aggregateId: fastId })]));
        const during = await store.feed(t.db, { after: start });
        expect(during.events.map((e) => e.event.id)).toEqual([]);
        release();
        await slow;
        const after = await store.feed(t.db, { after: during.next });
        expect(after.events.map((e) => e.event.id)).toEqual([slowId, fastId]);
      });

      it('reads an aggregate that a writer without the advisory lock created while the append waited', async () => {
        const id = `task-${unique()}`;
        let release: () => void = () => undefined;
        const held = new Promise<void>((resolve) => (release = resolve));
        const resolution = createResolutionStore();
        // Creates the aggregate row (uncommitted) without taking the store's advisory lock.
        const writer = t.db.withTransaction(async (tx) => {
          const state = await resolution.lockAggregate(tx, 'task', id);
          await resolution.applyResolution(tx, {
            aggregateType: 'task',
            aggregateId: id,
            state,
            change: { fields: { title: 'first' }, eventId: `${id}-first` },
            eventId: `${id}-first`,
            type: 'ConflictResolved',
            conflictId: `${id}-first`,
            outcome: 'resolved',
          });
          await held;
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const appended = t.db.withTransaction((tx) =>
          store.append(tx, [ev({ aggregateId: id, baseVersion: 1, data: { done: true } })]),
        );
        // The append's insert of the aggregate waits for the writer's row: commit the writer then.
        for (let waiting = 0; waiting === 0;) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          const { rows } = await t.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.datname = current_database() AND NOT l.granted`,
          );
          waiting = rows[0]?.n ?? 0;
        }
        release();
        await writer;
        const [result] = await appended;
        expect(result).toMatchObject({ outcome: 'applied', version: 2 });
        expect(await store.getAggregate(t.db, 'task', id)).toMatchObject({
          version: 2,
          fields: { title: 'first', done: true },
        });
      });

      it('serialises concurrent appends to one aggregate (versions 1..n, conflicts seen)', async () => {
        const id = `task-${unique()}`;
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            t.db.withTransaction((tx) =>
              store.append(tx, [ev({ aggregateId: id, baseVersion: 0, data: { [`f${i}`]: i } })]),
            ),
          ),
        );
        const versions = results.map((r) => r[0]?.version).sort((a, b) => (a ?? 0) - (b ?? 0));
        expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(results.filter((r) => r[0]?.outcome === 'merged')).toHaveLength(19);
        expect((await store.getAggregate(t.db, 'task', id))?.version).toBe(20);
      });
    }
  });

suite('Postgres', () => createTestDatabase({ adminUrl: inject('DATABASE_URL') }), { concurrent: true });
// PGlite is a single connection: transactions cannot interleave, so the concurrency cases do not apply.
suite('PGlite', () => createPgliteTestDatabase(), { concurrent: false });

// The append's statements are prepared once per connection. A plan made while the tables were small
// must not turn into a scan of every event or aggregate for each batch once they are large: the
// statistics here are never refreshed (no ANALYZE), as in a fresh deployment before autovacuum runs.
describe('event store plans on Postgres', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), max: 1 });
  });
  afterAll(() => t.close());

  const batch = (tag: string, n: number) =>
    Array.from({ length: 100 }, (_, i) =>
      ev({ id: `${tag}-${n}-${i}`, aggregateId: `plan-${(n * 100 + i) % 2_000}`, data: { title: tag } }),
    );

  it('finds aggregates and known events by key on a grown table, with plans made while it was empty', async () => {
    // Ten batches on the near-empty tables: past the plan cache's custom plans, to its generic plan. Then
    // 4,000 more events on 2,000 aggregates (each aggregate twice, so the append updates as well).
    for (let n = 0; n < 10; n++) await t.db.withTransaction((tx) => store.append(tx, batch('small', n)));
    for (let n = 0; n < 40; n++) await t.db.withTransaction((tx) => store.append(tx, batch('grown', n)));
    // Scan counters of this backend, not yet flushed: read before and after, in one transaction.
    const counters = async (tx: Tx) => {
      const { rows } = await tx.query<{ relname: string; seq_scan: string; idx_scan: string }>(
        `SELECT relname, seq_scan::text AS seq_scan, idx_scan::text AS idx_scan FROM pg_stat_xact_user_tables
         WHERE schemaname = 'concord' AND relname IN ('events', 'aggregates') ORDER BY relname`,
      );
      return new Map(rows.map((r) => [r.relname, { seq: Number(r.seq_scan), idx: Number(r.idx_scan) }]));
    };
    const scans = await t.db.withTransaction(async (tx) => {
      const before = await counters(tx);
      await store.append(tx, [...batch('probe', 0), ...batch('grown', 39).slice(0, 5)]);
      const after = await counters(tx);
      return ['aggregates', 'events'].map((table) => ({
        table,
        seq: (after.get(table)?.seq ?? 0) - (before.get(table)?.seq ?? 0),
        idx: (after.get(table)?.idx ?? 0) - (before.get(table)?.idx ?? 0),
      }));
    });
    expect(scans.map((s) => [s.table, s.seq])).toEqual([
      ['aggregates', 0],
      ['events', 0],
    ]);
    expect(scans.every((s) => s.idx > 0)).toBe(true);
  });
});
