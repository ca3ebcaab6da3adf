import { applyChanges, applyPatch, classify, toConflict } from '@concord/core/conflict';
import { coreErrors } from '@concord/core';
import { validateEvent } from '@concord/core/envelope';
import { loadPolicyOrThrow } from '@concord/core/policy';
import { formatHlc } from '@concord/core/versions';
import type { AggregateState, Conflict } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CHANGE_ID_SUFFIXES,
  changeEventId,
  defaultPolicyPath,
  escalationStrategy,
  refreshConflict,
  settleChanges,
} from '../src/index.js';
import { createDecisionRecord } from '@concord/core/decision';
import { decide } from '@concord/core/policy';

const hlc = (wall: number, node = 'n') => formatHlc({ wall, logical: 0, node });
const ev = (id: string, data: EventEnvelope['data'], extra: Partial<EventEnvelope> = {}): EventEnvelope => ({
  id,
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 't1',
  data,
  ...extra,
});

/** Applies events in order; returns the state and the conflict of the last one. */
const run = (events: EventEnvelope[]): { state: AggregateState | undefined; conflict?: Conflict } => {
  let state: AggregateState | undefined;
  let conflict: Conflict | undefined;
  for (const event of events) {
    const c = classify(state, event);
    if (c.outcome === 'applied' || c.outcome === 'merged') state = applyPatch(state, event);
    if (c.outcome === 'conflict') conflict = toConflict({ id: event.id, event, details: c.details });
  }
  return conflict === undefined ? { state } : { state, conflict };
};

describe('re-deciding against the current state', () => {
  const e1 = ev('e1', { title: 'a', done: false }, { hlc: hlc(1) });
  const e2 = ev('e2', { title: 'b' }, { baseVersion: 1, hlc: hlc(2) });
  const e3 = ev('e3', { title: 'c', note: 'n' }, { baseVersion: 1, hlc: hlc(3) });
  const e4 = ev('e4', { title: 'd' }, { baseVersion: 2, hlc: hlc(4) });

  it('keeps the detected conflict when the aggregate has not moved', () => {
    const { state, conflict } = run([e1, e2, e3]);
    if (conflict === undefined) throw new Error('expected a conflict');
    expect(refreshConflict(conflict, state)).toEqual({ conflict, moved: false });
  });

  it('re-reads the local side when the aggregate moved, so the policy sees what is really there', () => {
    const { conflict } = run([e1, e2, e3]);
    if (conflict === undefined) throw new Error('expected a conflict');
    const { state: moved } = run([e1, e2, e4]);
    const refreshed = refreshConflict(conflict, moved);
    expect(refreshed.moved).toBe(true);
    expect(refreshed.conflict.id).toBe('e3');
    expect(refreshed.conflict.currentVersion).toBe(3);
    expect(refreshed.conflict.local['title']).toMatchObject({ value: 'd', eventId: 'e4', version: 3 });

    const policy = loadPolicyOrThrow(readFileSync(defaultPolicyPath(), 'utf8'));
    // Against the stale local side, e3 (hlc 3) beats e2 (hlc 2); against the real one, e4 (hlc 4) wins.
    expect(decide(policy, conflict).result.fields['title']).toBe('c');
    expect(decide(policy, refreshed.conflict).result.fields['title']).toBe('d');
  });
});

describe('settling a reviewed conflict', () => {
  const e1 = ev('e1', { amount: 10, memo: 'x' });
  const e2 = ev('e2', { amount: 20 }, { baseVersion: 1 });
  const e3 = ev('e3', { amount: 30, memo: 'y' }, { baseVersion: 1 });
  const { state, conflict } = run([e1, e2, e3]);
  if (conflict === undefined) throw new Error('expected a conflict');

  it('writes the final values and the event’s other fields when nothing was applied provisionally', () => {
    const out = settleChanges({
      conflict,
      values: { amount: 30 },
      sources: { amount: 'remote' },
      state,
      provisionalApplied: false,
    });
    expect(out.change?.fields).toEqual({ memo: 'y', amount: 30 });
    expect(out.change?.eventId).toBe('e3');
    expect(out.change?.provenance).toBeUndefined();
    expect(out.kept).toEqual([]);
  });

  it('reverts a provisional value to the chosen one and writes nothing when it already holds', () => {
    const provisional = applyPatch(state, e3);
    const back = settleChanges({
      conflict,
      values: { amount: 20 },
      sources: { amount: 'local' },
      state: provisional,
      provisionalApplied: true,
    });
    expect(back.change?.fields).toEqual({ amount: 20 });
    // The restored value is e2's, not the losing e3's (issue 18: exact provenance).
    expect(applyChanges(provisional, back.change!).fieldVersions['amount']).toEqual({
      version: 4,
      eventId: 'e2',
    });
    const same = settleChanges({
      conflict,
      values: { amount: 30 },
      sources: { amount: 'remote' },
      state: provisional,
      provisionalApplied: true,
    });
    expect(same.change).toBeUndefined();
  });

  it('takes a provisional apply back on a rejection: the event’s other fields return to their earlier values', () => {
    const e5 = ev('e5', { amount: 30, memo: 'y', tag: 'new' }, { baseVersion: 1 });
    const { state: before, conflict: rejected } = run([e1, e2, e5]);
    if (rejected === undefined) throw new Error('expected a conflict');
    const provisional = applyPatch(before, e5);
    const back = settleChanges({
      conflict: rejected,
      values: { amount: 20 },
      sources: { amount: 'local' },
      state: provisional,
      provisionalApplied: true,
      restore: { memo: { value: 'x', write: { eventId: 'e1' } } },
    });
    // `tag` was not set before: null, as a change cannot remove a field; no event wrote it.
    expect(back.change?.fields).toEqual({ memo: 'x', tag: null, amount: 20 });
    expect(back.change?.eventId).toBe('e5');
    expect(back.change?.provenance).toEqual({
      memo: { eventId: 'e1' },
      tag: { eventId: 'e5:resolution' },
      amount: { eventId: 'e2' },
    });

    const later = applyPatch(provisional, ev('e9', { memo: 'z' }, { baseVersion: 3 }));
    const kept = settleChanges({
      conflict: rejected,
      values: { amount: 20 },
      sources: { amount: 'local' },
      state: later,
      provisionalApplied: true,
      restore: {
        memo: { value: 'x', write: { eventId: 'e1' } },
        tag: { value: 'new', write: { eventId: 'e0' } },
      },
    });
    expect(kept.change?.fields).toEqual({ amount: 20 });
    expect(kept.kept).toEqual([{ field: 'memo', eventId: 'e9' }]);
  });

  it('keeps a later write by somebody else', () => {
    const later = applyPatch(state, ev('e9', { amount: 99 }, { baseVersion: 2 }));
    const out = settleChanges({
      conflict,
      values: { amount: 30 },
      sources: { amount: 'remote' },
      state: later,
      provisionalApplied: false,
    });
    expect(out.change?.fields).toEqual({ memo: 'y' });
    expect(out.kept).toEqual([{ field: 'amount', eventId: 'e9' }]);
  });
});

describe('escalation of an overdue review', () => {
  const policyText = `version: '1.0'
name: esc
settings: { default_fallback: last_write_wins }
rules:
  - name: with-on-timeout
    conditions: { fields: [budget] }
    resolution: { strategy: manual_review, options: { timeout: 30m, on_timeout: { strategy: first_write_wins } } }
groups:
  - name: orders
    conditions: { aggregate_types: [order] }
    fallback: additive_merge
    rules:
      - name: needs-review
        conditions: { fields: [amount] }
        resolution: { strategy: manual_review, options: { timeout: 1h } }
  - name: review-all
    fallback: { strategy: manual_review, options: { timeout: 1h } }
`;
  const policy = loadPolicyOrThrow(policyText);
  const clock = { now: () => 0 };
  const recordFor = (event: EventEnvelope) => {
    const { conflict } = run([
      ev('a', { [Object.keys(event.data)[0] ?? 'x']: 1 }, { aggregateType: event.aggregateType }),
      ev('b', event.data, { baseVersion: 1, aggregateType: event.aggregateType }),
      event,
    ]);
    if (conflict === undefined) throw new Error('expected a conflict');
    return createDecisionRecord({ conflict, decision: decide(policy, conflict), policy, clock });
  };

  it('uses the rule’s on_timeout, else the enclosing group’s fallback, else the default fallback', () => {
    const budget = recordFor(ev('c', { budget: 5 }, { baseVersion: 1 }));
    expect(budget.rule).toBe('with-on-timeout');
    expect(escalationStrategy({ policy, record: budget })).toMatchObject({
      source: 'on_timeout',
      strategy: { name: 'first_write_wins' },
    });
    const amount = recordFor(ev('c', { amount: 5 }, { baseVersion: 1, aggregateType: 'order' }));
    expect(amount.rule).toBe('needs-review');
    expect(escalationStrategy({ policy, record: amount })).toMatchObject({
      source: 'group_fallback:orders',
      strategy: { name: 'additive_merge' },
    });
    const other = recordFor(ev('c', { title: 'z' }, { baseVersion: 1 }));
    expect(other).toMatchObject({ via: 'group_fallback', group: 'review-all' });
    expect(escalationStrategy({ policy, record: other })).toMatchObject({
      source: 'default_fallback',
      strategy: { name: 'last_write_wins' },
    });
  });
});

describe('ids of the resolver’s own changes', () => {
  const envelope = (id: string) => ({
    id,
    type: 'T',
    aggregateType: 'task',
    aggregateId: 't1',
    data: { a: 1 },
  });
  const cloudEvent = (id: string) => ({
    specversion: '1.0',
    id,
    source: 'app',
    type: 'T',
    subject: 't1',
    aggregatetype: 'task',
    data: { a: 1 },
  });

  it('can never be taken by a submitted event, in either form', () => {
    for (const suffix of CHANGE_ID_SUFFIXES) {
      const id = changeEventId('e3', suffix);
      for (const input of [envelope(id), cloudEvent(id)]) {
        const validation = validateEvent(input);
        expect(validation.ok).toBe(false);
        if (!validation.ok) {
          expect(validation.problems).toEqual([
            expect.objectContaining({ code: coreErrors.EVENT_BAD_ID.code, path: 'id' }),
          ]);
        }
      }
    }
    for (const id of ['e3:resolution-2', 'e3:provisional:x', 'e3:Resolution', 'resolution']) {
      expect(validateEvent(envelope(id)).ok).toBe(true);
    }
  });
});
