import { applyPatch } from '@concord/core/conflict';
import type { JsonValue } from '@concord/core';
import type { AggregateState } from '@concord/core/conflict';
import { expect } from 'vitest';
import { getJson, getOptional } from './http.js';
import { eventually } from './processes.js';
import { STATUSES, WRITERS, countBy, range } from './scenario-events.js';
import type { AggregateView, ConflictView, FeedPage, StoredEventView } from './scenario-events.js';
import type { Stack } from './stack.js';

/* What the scenario policy implies, checked against what the services report (scenario.ts drives). */

type Views = ReadonlyMap<string, StoredEventView>;
type FeedRow = FeedPage['events'][number];

interface Folded {
  readonly states: Map<string, AggregateState>;
  readonly projections: (AggregateView | undefined)[];
}

/** Every writer group's outcomes and decisions, and the outcomes of the scenario's special events. */
export const expectOutcomes = (views: Views): void => {
  const outcome = (id: string) => views.get(id)?.outcome;
  for (const [prefix, expected] of [
    ['tm', { applied: 1, merged: WRITERS - 1 }],
    ['tt', { applied: 1, resolved: WRITERS - 1 }],
    ['tl', { applied: 1, resolved: WRITERS - 1 }],
    ['os', { applied: 1, resolved: WRITERS - 1 }],
    ['n', { applied: 1, resolved: WRITERS - 1 }],
  ] as const) {
    const outcomes = range(1, WRITERS).map((k) => outcome(`${prefix}-${k}`) ?? 'missing');
    expect(countBy(outcomes), `outcomes of the ${prefix}-* writers`).toEqual(expected);
  }
  const resolvedBy = (prefix: string) =>
    range(1, WRITERS)
      .map((k) => views.get(`${prefix}-${k}`))
      .filter((v): v is StoredEventView => v?.outcome === 'resolved');
  for (const view of resolvedBy('tt')) {
    expect(view.decision).toMatchObject({
      rule: 'task-tags-additive',
      strategy: 'additive_merge',
      outcome: 'resolved',
    });
  }
  for (const view of resolvedBy('tl')) {
    expect(view.decision).toMatchObject({
      via: 'default_fallback',
      strategy: 'last_write_wins',
      outcome: 'resolved',
    });
    expect(view.decision?.rule).toBeUndefined();
  }
  for (const view of resolvedBy('os')) {
    expect(view.decision).toMatchObject({
      rule: 'status-forward-only',
      group: 'orders',
      strategy: 'state_machine',
    });
    // The state machine never moves the status back behind the one the event asked for.
    const chosen = JSON.stringify(view.decision?.fields?.['status']).replaceAll('"', '');
    const asked = JSON.stringify(view.event.data['status']).replaceAll('"', '');
    expect(STATUSES.indexOf(chosen as never)).toBeGreaterThanOrEqual(STATUSES.indexOf(asked as never));
  }
  for (const view of resolvedBy('n')) {
    expect(view.decision).toMatchObject({ rule: 'notes-merge', strategy: 'field_merge' });
  }
  expect(outcome('vv-s1')).toBe('superseded');
  expect(outcome('vv-s2')).toBe('superseded');
  expect(outcome('vv-c1')).toBe('merged');
  expect(views.get('lk-2')).toMatchObject({
    outcome: 'rejected',
    decision: { rule: 'locked-is-final', strategy: 'reject' },
  });
  expect(views.get('bad-1')).toMatchObject({
    outcome: 'rejected',
    details: { error: { code: 'CONCORD_EVENT_MISSING_FIELD' } },
  });
  expect(views.get('bad-2')).toMatchObject({ outcome: 'rejected' });
  expect(views.get('bad-3')).toMatchObject({
    outcome: 'rejected',
    details: { error: { code: 'CONCORD_EVENT_WRONG_TYPE' } },
  });
  expect(views.get('op-2')).toMatchObject({ outcome: 'resolved', decision: { strategy: 'manual_review' } });
  // Reviewed, decided, reopened into review and decided again (the reopen phase).
  expect(views.get('op-2')?.history.map((h) => h.outcome)).toEqual([
    'conflict',
    'pending_review',
    'resolved',
    'pending_review',
  ]);
};

/**
 * The pull feed, folded with patch semantics in version order, once every applied event is in it and
 * every projection has caught up with it; returns the feed, the folded states and the projections.
 */
export const feedAndProjections = async (
  urls: Stack['urls'],
  views: Views,
): Promise<Folded & { readonly feed: FeedRow[] }> => {
  const feed: FeedRow[] = [];
  const readFeed = async () => {
    let after = '';
    for (;;) {
      const page = await getJson<FeedPage>(
        `${urls.ingest}/v1/events?limit=1000${after === '' ? '' : `&after=${after}`}`,
      );
      if (page.events.length === 0) return;
      feed.push(...page.events);
      after = page.next;
    }
  };
  const folded = await eventually(
    async () => {
      feed.length = 0;
      await readFeed();
      const states = new Map<string, AggregateState>();
      // The feed is in transaction-id order, which can differ from version order within an aggregate
      // (a transaction takes its id before it waits for the aggregate's lock): fold in version order.
      const ordered = [...feed].sort((a, b) => a.version - b.version);
      for (const row of ordered) {
        const key = `${row.event.aggregateType}/${row.event.aggregateId}`;
        const next = applyPatch(states.get(key), row.event);
        expect(row.version, `feed order of ${key}`).toBe(next.version);
        states.set(key, next);
      }
      const projections = await Promise.all(
        [...states.keys()].map((key) => getOptional<AggregateView>(`${urls.projector}/v1/aggregates/${key}`)),
      );
      // The feed shows a transaction only once every older one has ended: wait for every applied event.
      const inFeed = new Set(feed.map((row) => row.event.id));
      const notYet = [...views].filter(
        ([id, v]) => ['applied', 'merged'].includes(v.outcome) && !inFeed.has(id),
      );
      if (notYet.length > 0) throw new Error(`feed lacks ${notYet.map(([id]) => id).join(', ')}`);
      const behind = [...states].flatMap(([key, s], i) =>
        projections[i]?.version === s.version ? [] : [`${key} at ${projections[i]?.version} of ${s.version}`],
      );
      if (behind.length > 0) throw new Error(`projections behind the feed: ${behind.join(', ')}`);
      return { states, projections };
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'projections to catch up with the feed' },
  );
  return { feed, ...folded };
};

/** Every projection equals the fold of the feed, and the folds are what the writers imply. */
export const expectProjections = (folded: Folded): void => {
  for (const [i, [key, state]] of [...folded.states].entries()) {
    expect(folded.projections[i]?.fields, `projection of ${key}`).toEqual(state.fields);
  }
  const fields = (key: string) => folded.states.get(key)?.fields ?? {};
  expect(fields('task/task-merge')).toEqual({
    title: 'merge me',
    ...Object.fromEntries(range(1, WRITERS).map((k) => [`f${k}`, k])),
  });
  expect(new Set(fields('task/task-tags')['tags'] as JsonValue[])).toEqual(
    new Set(range(1, WRITERS).map((k) => `t${k}`)),
  );
  expect(fields('task/task-title')).toEqual({ title: `title-${WRITERS}` });
  expect(fields('order/order-status')).toEqual({ status: 'delivered' });
  expect(fields('note/note-1')['title']).toBe('note');
  expect(new Set(fields('note/note-1')['tags'] as JsonValue[])).toEqual(
    new Set(range(1, WRITERS).map((k) => `n${k}`)),
  );
  expect(fields('order/order-pay')).toEqual({ status: 'pending', amount: 140, currency: 'EUR' });
  expect(fields('task/task-locked')).toEqual({ locked: true });
  expect(fields('doc/doc-vv')).toEqual({ title: 'a1', body: 'b1', summary: 'c1' });
  expect(fields('task/task-dup')).toEqual({ title: 'once' });
};

/** The notification message ids the outcomes, decisions and applied changes imply. */
export const expectedNotifications = async (
  urls: Stack['urls'],
  feed: readonly FeedRow[],
  views: Views,
): Promise<Set<string>> => {
  const expected = new Set<string>();
  for (const row of feed) {
    expected.add(`${row.event.id}:applied`);
    expected.add(`${row.event.id}:applied:projected`);
  }
  for (const [id, view] of views) {
    if (view.conflictId === undefined) {
      for (const o of [...view.history.map((h) => h.outcome), view.outcome])
        expected.add(`${id}:outcome:${o}`);
      continue;
    }
    // A conflict: ingest's `conflict` outcome, then each decision's resolved and outcome messages, those
    // of a reopened conflict's later rounds with `:<round>` after their ids.
    expected.add(`${id}:outcome:conflict`);
    const conflict = await getJson<ConflictView>(`${urls.resolver}/v1/conflicts/${view.conflictId}`);
    for (const d of conflict.decisions) {
      const round = d.round === 0 ? '' : `:${d.round}`;
      expected.add(`${view.conflictId}:${d.outcome}${round}`);
      expected.add(`${id}:outcome:${d.outcome}${round}`);
    }
  }
  return expected;
};
