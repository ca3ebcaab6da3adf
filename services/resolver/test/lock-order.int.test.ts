import { decodeJson } from '@concord/bus';
import { silentLogger } from '@concord/core';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Database, QueryResult, Tx } from '@concord/outbox';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createResolver } from '../src/resolver.js';
import type { Resolver } from '../src/types.js';
import {
  amountConflict,
  budgetConflict,
  createHarness,
  ev,
  hlc,
  unique,
  waitFor,
} from './support/harness.js';
import type { Harness } from './support/harness.js';

/**
 * A human decision or a timeout escalation racing an ingest write on the same aggregate. The relay
 * publishes in transaction-id order, so the aggregate's `concord.events.applied` messages must come out
 * of the outbox in version order in that order. A decision that locks its conflict row (which assigns a
 * transaction id) before the aggregate's advisory lock could commit a later version under an earlier id.
 */

/** A database whose transactions stop once, before the first query matching `at`, until released. */
const pausingDatabase = (db: Database, at: RegExp) => {
  let armed = true;
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((resolve) => (reached = resolve));
  const releaseP = new Promise<void>((resolve) => (release = resolve));
  const wrap = (tx: Tx): Tx => ({
    query: async <R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
      if (armed && at.test(text)) {
        armed = false;
        reached();
        await releaseP;
      }
      return tx.query<R>(text, params);
    },
    exec: (text) => tx.exec(text),
  });
  const paused: Database = {
    kind: db.kind,
    query: (text, params) => db.query(text, params),
    exec: (text) => db.exec(text),
    withTransaction: (fn) => db.withTransaction((tx) => fn(wrap(tx))),
    listen: (options) => db.listen(options),
    close: () => Promise.resolve(),
  };
  return { db: paused, reached: reachedP, release };
};

/** Where the resolution store takes the aggregate's row lock (after the decision locked its conflict). */
const LOCK_AGGREGATE_ROW = /\.aggregates a WHERE .* FOR UPDATE/s;

describe('reviewed decisions lock the aggregate before their first write', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'));
  });
  afterAll(() => h.close());

  /** Versions of the aggregate's applied messages in the relay's publish order. */
  const publishedVersions = async (aggregateId: string): Promise<number[]> => {
    const { rows } = await h.db.query<{ payload: Uint8Array }>(
      `SELECT payload FROM concord.outbox WHERE topic = 'concord.events.applied' AND key = $1
       ORDER BY tx_id, id`,
      [aggregateId],
    );
    return rows.map((row) => (decodeJson(row.payload) as { version: number }).version);
  };

  const advisoryWaiters = async (): Promise<number> => {
    const { rows } = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`,
    );
    return rows[0]?.n ?? 0;
  };

  /**
   * Stops `decide` (a resolver on a pausing database) where it takes the aggregate's row, runs an ingest
   * append meanwhile, and lets the decision go once the append committed or waits for the aggregate.
   */
  const race = async (options: {
    aggregateId: string;
    decide: (resolver: Resolver) => Promise<unknown>;
    ingest: EventEnvelope;
  }) => {
    const pausing = pausingDatabase(h.db, LOCK_AGGREGATE_ROW);
    const resolver = createResolver({
      db: pausing.db,
      schema: 'concord',
      policy: h.policy,
      clock: h.clock,
      logger: silentLogger,
      consumer: 'resolver',
    });
    const decision = options.decide(resolver);
    await pausing.reached;
    let ingested = false;
    const ingest = h.append([options.ingest]).then(() => {
      ingested = true;
    });
    await waitFor(
      'the ingest append to commit or to wait for the aggregate lock',
      async () => ingested || (await advisoryWaiters()) > 0,
    );
    pausing.release();
    await Promise.all([decision, ingest]);
    await resolver.close();
  };

  it('a human decision is published after an ingest write it waited for', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(amountConflict(id));
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({ version: 3 });

    await race({
      aggregateId: id,
      decide: (resolver) => resolver.decideByHuman(conflictId, { choose: 'local', userId: 'u1' }),
      ingest: ev(id, { id: `${id}-4`, data: { title: 'x' }, baseVersion: 3, hlc: hlc(4) }),
    });

    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 5,
      fields: { amount: 20, title: 'x' },
    });
    expect(await publishedVersions(id)).toEqual([1, 2, 3, 4, 5]);
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'resolved' });
  });

  it('a timeout escalation is published after an ingest write it waited for', async () => {
    const id = `task-${unique()}`;
    const conflictId = `${id}-3`;
    await h.append(budgetConflict(id));
    await h.module.resolver.handleDetected(await h.detected(conflictId));
    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({ version: 2 });
    h.clock.advance(31 * 60_000);

    await race({
      aggregateId: id,
      decide: (resolver) => resolver.escalateDue(),
      ingest: ev(id, { id: `${id}-4`, data: { title: 'y' }, baseVersion: 2, hlc: hlc(40) }),
    });

    expect(await h.store.getAggregate(h.db, 'task', id)).toMatchObject({
      version: 4,
      fields: { budget: 3, title: 'y' },
    });
    expect(await publishedVersions(id)).toEqual([1, 2, 3, 4]);
    expect(await h.store.getEvent(h.db, conflictId)).toMatchObject({ outcome: 'resolved' });
  });
});
