import { aggregateKey } from './store/port.js';
import { bySeq } from './state.js';
import type { JsonObject, Outcome, OutcomeNotice, PendingChange, PushResult } from './types.js';

/** The base version of a new change: the confirmed version, or the version a change of ours cleanly applied at. */
export const baseVersionFor = (confirmedVersion: number, pending: readonly PendingChange[]): number =>
  pending.reduce(
    (base, change) =>
      change.status === 'sent' && change.outcome === 'applied' && change.version !== undefined
        ? Math.max(base, change.version)
        : base,
    confirmedVersion,
  );

/**
 * The next batch to push: queued changes in queue order, at most `max`, at most one per aggregate, and
 * none whose predecessor (`after`) is still unanswered — so a change is sent only with the base version
 * its predecessor's answer gives it.
 */
export const nextBatch = (pending: readonly PendingChange[], max: number): PendingChange[] => {
  const unanswered = new Set(pending.filter((c) => c.status === 'queued').map((c) => c.id));
  const aggregates = new Set<string>();
  const batch: PendingChange[] = [];
  for (const change of [...pending].sort(bySeq)) {
    if (batch.length >= max) break;
    if (change.status !== 'queued') continue;
    const key = aggregateKey(change.aggregateType, change.aggregateId);
    if (aggregates.has(key)) continue;
    aggregates.add(key);
    if (change.after !== undefined && unanswered.has(change.after)) continue;
    batch.push(change);
  }
  return batch;
};

const noticeOf = (
  change: PendingChange,
  outcome: Outcome,
  extra: Partial<OutcomeNotice> = {},
): OutcomeNotice => ({
  id: change.id,
  aggregateType: change.aggregateType,
  aggregateId: change.aggregateId,
  outcome,
  ...extra,
});

/** A change after the server's answer to its push: what it becomes (undefined: dropped) and what to tell. */
export interface Answered {
  readonly change: PendingChange | undefined;
  readonly notice: OutcomeNotice;
}

/** The server's answer to a pushed change (DESIGN §3; a `duplicate` counts as the outcome the event has). */
export const answer = (change: PendingChange, result: PushResult): Answered => {
  const outcome = result.outcome === 'duplicate' ? (result.originalOutcome ?? 'conflict') : result.outcome;
  const extra: Partial<OutcomeNotice> = {
    ...(result.version === undefined ? {} : { version: result.version }),
    ...(result.conflictId === undefined ? {} : { conflictId: result.conflictId }),
    ...(result.error === undefined ? {} : { error: result.error }),
  };
  const notice = noticeOf(change, outcome, extra);
  const { after: _after, ...rest } = change;
  const answered = { ...rest, outcome, ...extra };
  switch (outcome) {
    case 'applied':
    case 'merged':
      return {
        change: result.version === undefined ? undefined : { ...answered, status: 'sent' },
        notice,
      };
    // A retry that finds its event decided already: the decision is looked up as a conflict's is.
    case 'conflict':
    case 'resolved':
    case 'duplicate':
      return { change: { ...answered, status: 'conflict' }, notice };
    case 'pending_review':
      return { change: { ...answered, status: 'pending_review' }, notice };
    case 'rejected':
    case 'superseded':
      return { change: undefined, notice };
  }
};

/**
 * Successors of an answered change: released for pushing, and based on its version when it applied
 * cleanly on the version it was based on (nothing came between, so the successor saw all of it).
 */
export const release = (
  pending: readonly PendingChange[],
  answered: PendingChange,
  result: Answered,
): PendingChange[] =>
  pending
    .filter((c) => c.after === answered.id)
    .map(({ after: _after, ...successor }) =>
      result.notice.outcome === 'applied' && result.notice.version !== undefined
        ? { ...successor, baseVersion: Math.max(successor.baseVersion, result.notice.version) }
        : successor,
    );

/** An event as `GET /v1/events/:id` answers it (the members the client reads). */
export interface StoredEventView {
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly decision?: JsonObject;
  readonly details?: JsonObject;
}

/**
 * A change held in conflict or review after the server's current word on it: unchanged while the
 * resolver has not decided; `settled` at the decision's version when the decision changed the
 * aggregate; dropped when it changed nothing (the confirmed state already is the decision).
 */
export const settle = (change: PendingChange, stored: StoredEventView): Answered | undefined => {
  if (stored.outcome === change.outcome && change.outcome !== 'resolved') return undefined;
  const decision = stored.decision;
  const appliedEventId = decision?.['appliedEventId'];
  const decisionVersion = decision?.['version'];
  const version =
    typeof decisionVersion === 'number'
      ? decisionVersion
      : stored.version !== undefined
        ? stored.version
        : undefined;
  const error = stored.details?.['error'] as OutcomeNotice['error'] | undefined;
  const notice = noticeOf(change, stored.outcome, {
    ...(version === undefined ? {} : { version }),
    ...(stored.conflictId === undefined ? {} : { conflictId: stored.conflictId }),
    ...(decision === undefined ? {} : { decision }),
    ...(error === undefined ? {} : { error }),
  });
  switch (stored.outcome) {
    case 'conflict':
      return undefined;
    case 'pending_review':
      return { change: { ...change, outcome: 'pending_review', status: 'pending_review' }, notice };
    case 'resolved':
    case 'rejected': {
      const changed = typeof appliedEventId === 'string' && version !== undefined;
      return {
        change: changed ? { ...change, outcome: stored.outcome, status: 'settled', version } : undefined,
        notice,
      };
    }
    case 'applied':
    case 'merged':
      return stored.version === undefined
        ? undefined
        : { change: { ...change, outcome: stored.outcome, status: 'sent', version: stored.version }, notice };
    case 'duplicate':
    case 'superseded':
      return { change: undefined, notice };
  }
};

/**
 * The whole queue to be pushed again, for a server that no longer knows the client's cursor (restored
 * from a backup, or its data replaced): every change queued under its own id, so the server answers
 * `duplicate` with its outcome where it has the change, and takes it anew where it does not. The changes
 * of an aggregate are chained again in queue order, the first based on version 0 (what the server holds
 * of the aggregate is not known), each next one on its predecessor's answer (`release`).
 */
export const requeueAll = (pending: readonly PendingChange[]): PendingChange[] => {
  const last = new Map<string, string>();
  return [...pending].sort(bySeq).map((change) => {
    const { outcome: _outcome, version: _version, conflictId: _conflictId, after: _after, ...rest } = change;
    const key = aggregateKey(change.aggregateType, change.aggregateId);
    const previous = last.get(key);
    last.set(key, change.id);
    return {
      ...rest,
      status: 'queued',
      baseVersion: 0,
      ...(previous === undefined ? {} : { after: previous }),
    };
  });
};
