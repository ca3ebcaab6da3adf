import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPatch } from '@concord/core/conflict';
import { isFinalOutcome } from '@concord/core/messages';
import { formatHlc } from '@concord/core/versions';
import type { JsonObject } from '@concord/core';
import type { AggregateState } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, getOptional, postJson } from './support/http.js';
import { ServiceProcess, eventually, freePort } from './support/processes.js';
import { SCENARIO_POLICY } from './support/stack.js';

/**
 * The embedded all-in-one process (PGlite, in-memory bus) stopped — SIGTERM, or SIGKILL as in a crash —
 * while the messages of just-accepted events are still in flight inside it: published by the relay into
 * the volatile in-memory bus, not yet handled by the resolver, projector or notifier. After a restart on
 * the same data folder every event must still reach its final outcome and every projection its aggregate,
 * each exactly once. Only public contracts: HTTP and the process's signals.
 */

const AGGREGATES = 200;

interface StoredEventView {
  readonly outcome: Outcome;
  readonly history: readonly { readonly outcome: Outcome }[];
}

interface FeedPage {
  readonly events: readonly { readonly event: EventEnvelope; readonly version: number }[];
  readonly next: string;
}

interface AggregateView {
  readonly version: number;
  readonly fields: JsonObject;
}

interface PostResult {
  readonly results: readonly { readonly id: string; readonly outcome: Outcome }[];
}

const hlc = (wall: number, node: string): string => formatHlc({ wall, logical: 0, node });

/** Messages a consumer group handled, from `/metrics` (DESIGN §5). */
const handled = async (url: string, group: string, topic: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('concord_consumer_messages_total{') &&
        l.includes(`group="${group}"`) &&
        l.includes(`topic="${topic}"`) &&
        l.includes('result="handled"'),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};

/**
 * Per aggregate: a first write, then three writers that all saw version 1 — two set the same field
 * (one applies, the other conflicts and goes through the resolver: last_write_wins) and one sets its own
 * field (merged). Every hop of the pipeline has work: ingest → resolver → projector → notifier.
 */
const eventsOf = (run: string) => {
  const first: EventEnvelope[] = [];
  const concurrent: EventEnvelope[][] = [[], [], []];
  for (let i = 0; i < AGGREGATES; i++) {
    const aggregateId = `task-${run}-${i}`;
    const base = { type: 'TaskUpdated', aggregateType: 'task', aggregateId };
    first.push({ ...base, id: `${aggregateId}-0`, data: { title: 'first', n: i }, hlc: hlc(1000, 'a') });
    const later = { ...base, baseVersion: 1 };
    concurrent[0]?.push({ ...later, id: `${aggregateId}-a`, data: { title: 'a' }, hlc: hlc(2000, 'a') });
    concurrent[1]?.push({ ...later, id: `${aggregateId}-b`, data: { title: 'b' }, hlc: hlc(3000, 'b') });
    concurrent[2]?.push({ ...later, id: `${aggregateId}-c`, data: { note: `c${i}` }, hlc: hlc(2500, 'c') });
  }
  return { first, concurrent };
};

const embedded = (dataDir: string, port: number, label: string) =>
  new ServiceProcess({
    service: 'all-in-one',
    label,
    port,
    env: {
      CONCORD_DATA_DIR: dataDir,
      CONCORD_POLICY: SCENARIO_POLICY,
      SHUTDOWN_GRACE_MS: '10000',
      LOG_LEVEL: 'info',
    },
  });

const replayFeed = async (url: string, aggregateIds: ReadonlySet<string>) => {
  const states = new Map<string, AggregateState>();
  const rows: { event: EventEnvelope; version: number }[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await getJson<FeedPage>(
      `${url}/v1/events?limit=1000${after === undefined ? '' : `&after=${after}`}`,
    );
    rows.push(...page.events.filter((row) => aggregateIds.has(row.event.aggregateId)));
    if (page.events.length === 0) break;
    after = page.next;
  }
  for (const row of [...rows].sort((a, b) => a.version - b.version)) {
    states.set(row.event.aggregateId, applyPatch(states.get(row.event.aggregateId), row.event));
  }
  return { states, applied: rows.map((row) => row.event.id) };
};

describe('the embedded all-in-one process loses nothing in flight when it stops', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} with messages in the in-memory bus: after a restart every event is final and projected once`, async () => {
      const run = `${signal.toLowerCase()}-${Date.now().toString(36)}`;
      const dataDir = mkdtempSync(join(tmpdir(), 'concord-restart-'));
      let current = embedded(dataDir, await freePort(), `restart-${run}-1`);
      cleanup = async () => {
        await current.kill();
        rmSync(dataDir, { recursive: true, force: true });
      };
      await current.start();
      const { first, concurrent } = eventsOf(run);
      const ids = [...first, ...concurrent.flat()].map((e) => e.id);
      const aggregateIds = new Set(first.map((e) => e.aggregateId));

      await postJson<PostResult>(`${current.url}/v1/events`, { events: first });
      const projected = () => handled(current.url, 'projector', 'concord.events.applied');
      await eventually(async () => ((await projected()) >= AGGREGATES ? true : undefined), {
        what: 'the first writes to be projected',
      });
      // One request: one transaction, whose outbox rows the relay publishes hundreds at a time.
      const answer = await postJson<PostResult>(`${current.url}/v1/events`, { events: concurrent.flat() });
      expect(answer.results.filter((r) => r.outcome === 'conflict')).toHaveLength(AGGREGATES);

      // Stop as soon as the projector handled a message of the second wave: the relay has published a
      // batch of them into the in-memory bus and the consumers are working through it.
      await eventually(async () => ((await projected()) > AGGREGATES ? true : undefined), {
        intervalMs: 2,
        what: 'the consumers to start on the second wave',
      });
      if (signal === 'SIGTERM') expect(await current.stop()).toBe(0);
      else await current.kill();

      current = embedded(dataDir, await freePort(), `restart-${run}-2`);
      await current.start();
      const url = current.url;

      const views = await eventually(
        async () => {
          const all = await Promise.all(ids.map((id) => getJson<StoredEventView>(`${url}/v1/events/${id}`)));
          return all.every((view) => isFinalOutcome(view.outcome)) ? all : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: 'every event to reach its final outcome' },
      );
      for (const [i, view] of views.entries()) {
        const outcomes = [...view.history.map((h) => h.outcome), view.outcome];
        expect(outcomes.filter(isFinalOutcome), `final outcomes of ${ids[i]}`).toHaveLength(1);
        expect(new Set(outcomes).size, `outcome history of ${ids[i]}: ${outcomes.join(', ')}`).toBe(
          outcomes.length,
        );
      }
      expect(views.filter((v) => v.outcome === 'resolved').length).toBe(AGGREGATES);

      // Projections equal a replay of the pull feed: same version (each change applied once) and fields.
      const { states, applied } = await eventually(
        async () => {
          const replayed = await replayFeed(url, aggregateIds);
          const projections = await Promise.all(
            [...replayed.states.keys()].map((id) =>
              getOptional<AggregateView>(`${url}/v1/aggregates/task/${id}`),
            ),
          );
          const caughtUp = [...replayed.states.values()].every(
            (state, i) => projections[i]?.version === state.version,
          );
          return replayed.states.size === AGGREGATES && caughtUp ? replayed : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: 'projections to catch up with the feed' },
      );
      expect(new Set(applied).size).toBe(applied.length);
      for (const [id, state] of states) {
        const projection = await getJson<AggregateView>(`${url}/v1/aggregates/task/${id}`);
        expect(projection, `projection of ${id}`).toMatchObject({
          version: state.version,
          fields: state.fields,
        });
        expect(state.fields).toMatchObject({ title: 'b' });
      }

      expect(await current.stop()).toBe(0);
    });
  }
});
