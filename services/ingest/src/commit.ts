import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { JsonObject } from '@concord/core';
import type { OutcomeMessage } from '@concord/core/messages';
import { ConcordError, coreErrors } from '@concord/core';
import { MessageIds, Topics } from '@concord/core/messages';
import { createRejectionStore } from '@concord/outbox';
import type { Database, EventStore, Inbox, Outbox, OutboxMessage, RejectionStore, Tx } from '@concord/outbox';
import type { IntakeItem, InvalidItem } from './intake.js';
import type { EventResult } from './results.js';
import { duplicateResult, fromAppend, rejectedResult } from './results.js';
import { ingestErrors } from './errors.js';

/** A unit of intake: the events of one HTTP request or one submit message. */
export interface IntakeJob {
  readonly items: readonly IntakeItem[];
  /** Submit messages: the message id recorded in the inbox, so a redelivery changes nothing. */
  readonly inboxId?: string;
  /** Bytes the job arrived as (request body, message payload): what the group commit bounds. */
  readonly bytes?: number;
}

/**
 * What a job got: one result per item; nothing new for a redelivered message; or a non-retryable
 * failure of this job alone (its events hold something the database refuses to store).
 */
export type JobResult =
  | { readonly kind: 'committed'; readonly results: readonly EventResult[] }
  | { readonly kind: 'redelivered' }
  | { readonly kind: 'failed'; readonly error: ConcordError };

export interface GroupCommitDeps {
  readonly db: Database;
  readonly store: EventStore;
  readonly inbox: Inbox;
  readonly outbox: Outbox;
  /** Inbox consumer name. */
  readonly consumer: string;
  /** Where invalid events with a usable id are recorded (outcome `rejected`). Default: schema `concord`. */
  readonly rejections?: RejectionStore;
  /** Attempts of a transaction that lost a race (unique violation, deadlock, serialization). Default 3. */
  readonly attempts?: number;
}

const sqlState = (error: unknown): string =>
  typeof error === 'object' && error !== null ? String((error as { code?: unknown }).code) : '';
/** SQLSTATEs after which running the same transaction again succeeds or finds duplicates. */
const RACE_STATES = new Set(['23505', '40001', '40P01']);
const isRace = (error: unknown): boolean => RACE_STATES.has(sqlState(error));
/** Data exceptions and program limits: the content is at fault, and retrying cannot help. */
const isDataError = (error: unknown): boolean => /^(22|54)[0-9A-Z]{3}$/.test(sqlState(error));

const encoder = new TextEncoder();

/** The outcome message of an event that failed validation but has a usable id (DESIGN §3: never silent). */
const rejectedMessage = (item: InvalidItem, id: string, context: Context | undefined): OutboxMessage => {
  const outcome: OutcomeMessage = {
    kind: 'outcome',
    eventId: id,
    aggregateType: item.aggregateType,
    aggregateId: item.aggregateId,
    outcome: 'rejected',
    final: true,
    error: { code: item.error.code, message: item.error.message },
  };
  return {
    topic: Topics.outcome,
    key: id,
    id: MessageIds.outcome(id, 'rejected'),
    payload: encoder.encode(JSON.stringify(outcome)),
    headers: { 'correlation-id': id, 'causation-id': id },
    ...(context === undefined ? {} : { context }),
  };
};

/**
 * Domain attributes on the span of the request or message that carried a job: its events' ids,
 * aggregates and outcomes (scalars for a single event, arrays otherwise).
 */
const annotate = (context: Context, job: IntakeJob, results: readonly EventResult[]): void => {
  const span = trace.getSpan(context);
  if (span === undefined || !span.isRecording() || results.length === 0) return;
  const column = (of: (index: number) => string): string | string[] =>
    results.length === 1 ? of(0) : results.map((_, i) => of(i));
  const aggregate = (index: number): string => {
    const item = job.items[index];
    if (item === undefined) return '';
    const [type, id] = item.valid
      ? [item.event.aggregateType, item.event.aggregateId]
      : [item.aggregateType, item.aggregateId];
    return `${type}/${id}`;
  };
  span.setAttributes({
    'concord.event.count': results.length,
    'concord.event.id': column((i) => results[i]?.id ?? ''),
    'concord.aggregate': column(aggregate),
    'concord.outcome': column((i) => results[i]?.outcome ?? ''),
  });
};

/**
 * The group-commit transaction: records the inbox ids of submit messages (skipping redeliveries),
 * appends every valid event of the group in order in one `store.append` (events, outcomes and outbox
 * messages together), then records each invalid event whose id is not already an event's as `rejected`
 * with its outcome message; an invalid copy of a stored id answers `duplicate` with that event's outcome.
 * One transaction for the whole group: a lost race runs it again; a failure fails every job in it with
 * the retryable `CONCORD_COMMIT_FAILED` — except a data error (content the database refuses), after
 * which each job commits alone so only the offending one fails (`CONCORD_BATCH_UNSTORABLE`).
 */
export const createGroupCommit = (deps: GroupCommitDeps) => {
  const attempts = deps.attempts ?? 3;
  const rejections = deps.rejections ?? createRejectionStore();

  const once = (jobs: readonly IntakeJob[], contexts: readonly Context[]): Promise<JobResult[]> =>
    deps.db.withTransaction(async (tx) => {
      // Aggregate locks before the first write (the inbox), so transaction-id order is version order.
      // Without inbox rows (HTTP requests) the append is the first write, and it locks them itself.
      const valid = (job: IntakeJob) => job.items.flatMap((item) => (item.valid ? [item.event] : []));
      if (jobs.some((job) => job.inboxId !== undefined))
        await deps.store.lockAggregates(tx, jobs.flatMap(valid));
      const redelivered = await recordInbox(tx, jobs);
      const live = jobs.flatMap((job, i) => (redelivered[i] ? [] : [{ job, context: contexts[i] }]));
      // Each event's messages continue the trace of the request or message that carried it.
      const events = live.flatMap(({ job }) => valid(job));
      const eventContexts = live.flatMap(({ job, context }) => valid(job).map(() => context));
      const appended = await deps.store.append(tx, events, { contexts: eventContexts });
      const duplicates = await recordRejections(tx, live);

      let next = 0;
      return jobs.map((job, i): JobResult => {
        if (redelivered[i]) return { kind: 'redelivered' };
        const results = job.items.map((item) => {
          if (!item.valid) return duplicates.get(item) ?? rejectedResult(item);
          const result = appended[next++];
          if (result === undefined)
            throw new ConcordError(coreErrors.INTERNAL, 'store returned too few results');
          return fromAppend(result);
        });
        return { kind: 'committed', results };
      });
    });

  const recordInbox = async (tx: Tx, jobs: readonly IntakeJob[]): Promise<boolean[]> => {
    const redelivered: boolean[] = [];
    for (const job of jobs) {
      if (job.inboxId === undefined) {
        redelivered.push(false);
        continue;
      }
      const handled = await deps.inbox.handle(tx, deps.consumer, job.inboxId, () => Promise.resolve());
      redelivered.push(handled.duplicate);
    }
    return redelivered;
  };

  /**
   * Records the invalid events with a usable id as rejected and writes their outcome messages. Only the
   * first invalid copy of an id that names no stored event is recorded (`rejected`); every other invalid
   * copy answers `duplicate` with the outcome its id has in the store — that of a valid event appended by
   * this very transaction included (valid events are appended first). Returns those `duplicate` answers.
   */
  const recordRejections = async (
    tx: Tx,
    jobs: readonly { readonly job: IntakeJob; readonly context: Context | undefined }[],
  ): Promise<Map<IntakeItem, EventResult>> => {
    type Rejected = { readonly item: InvalidItem; readonly context: Context | undefined };
    const first = new Map<string, Rejected>();
    const copies: { readonly item: InvalidItem; readonly id: string }[] = [];
    for (const { job, context } of jobs) {
      for (const item of job.items) {
        if (item.valid || item.id === undefined) continue;
        if (!first.has(item.id)) first.set(item.id, { item, context });
        copies.push({ item, id: item.id });
      }
    }
    const duplicates = new Map<IntakeItem, EventResult>();
    if (first.size === 0) return duplicates;
    // An id that names a stored event keeps that event's outcome; a malformed copy must not contradict it.
    // The others are recorded as rejected events, so their outcome is queryable by id (DESIGN §3).
    const recorded = await rejections.record(
      tx,
      [...first].map(([id, { item }]) => ({
        eventId: id,
        type: item.type,
        aggregateType: item.aggregateType,
        aggregateId: item.aggregateId,
        error: JSON.parse(JSON.stringify(item.error)) as JsonObject,
      })),
    );
    const messages: OutboxMessage[] = [];
    for (const [id, { item, context }] of first) {
      if (recorded.has(id)) messages.push(rejectedMessage(item, id, context));
    }
    await deps.outbox.add(tx, messages);

    const stored = new Map<string, EventResult | undefined>();
    for (const { item, id } of copies) {
      const own = first.get(id)?.item;
      if (recorded.has(id)) {
        if (own !== undefined && own !== item) duplicates.set(item, duplicateResult(id, rejectedResult(own)));
        continue;
      }
      if (!stored.has(id)) {
        const duplicate = await deps.store.duplicate(tx, id);
        stored.set(id, duplicate === undefined ? undefined : fromAppend(duplicate));
      }
      const answer = stored.get(id);
      if (answer !== undefined) duplicates.set(item, answer);
    }
    return duplicates;
  };

  const withRetries = async (
    jobs: readonly IntakeJob[],
    contexts: readonly Context[],
  ): Promise<JobResult[]> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(jobs, contexts);
      } catch (error) {
        if (!isRace(error) || attempt >= attempts) throw error;
      }
    }
  };

  const commit = async (
    jobs: readonly IntakeJob[],
    contexts: readonly Context[] = jobs.map(() => ROOT_CONTEXT),
  ): Promise<JobResult[]> => {
    try {
      const results = await withRetries(jobs, contexts);
      results.forEach((result, i) => {
        const job = jobs[i];
        if (result.kind === 'committed' && job !== undefined)
          annotate(contexts[i] ?? ROOT_CONTEXT, job, result.results);
      });
      return results;
    } catch (error) {
      if (!isDataError(error)) {
        throw new ConcordError(
          ingestErrors.COMMIT_FAILED,
          'the events could not be committed; retry the request',
          {
            retryable: true,
            cause: error,
          },
        );
      }
      if (jobs.length === 1) {
        const message = 'the database refused to store an event of this batch';
        return [
          {
            kind: 'failed',
            error: new ConcordError(ingestErrors.BATCH_UNSTORABLE, message, { cause: error }),
          },
        ];
      }
      // One job's content broke the shared transaction: commit each alone, in order, so only it fails.
      const results: JobResult[] = [];
      for (const [i, job] of jobs.entries())
        results.push(...(await commit([job], [contexts[i] ?? ROOT_CONTEXT])));
      return results;
    }
  };
  return commit;
};
