import type { Context } from '@opentelemetry/api';
import { EMPTY_AGGREGATE, applyPatch, classify } from '@concord/core/conflict';
import { MAX_PAYLOAD_BYTES } from '@concord/core/messages';
import { ConcordError, coreErrors } from '@concord/core';
import type { JsonObject } from '@concord/core';
import type { AggregateState, Classification } from '@concord/core/conflict';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';
import type { Accepted } from '@concord/core/versions';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/ident.js';
import { outboxErrors } from '../errors.js';
import type { Sql, Tx } from '../db/types.js';
import { tenantKey } from '../db/tenant.js';
import type { TenantScope } from '../db/tenant.js';
import { createOutbox, outboxRows } from '../outbox/writer.js';
import type { Outbox, OutboxMessage } from '../outbox/writer.js';
import { START, decodeCursor, encodeCursor } from './cursor.js';
import type { FeedPosition } from './cursor.js';
import { readHistory } from './history.js';
import type { HistoryOptions, HistoryPage } from './history.js';
import { defaultMessages } from './messages.js';
import { aggregateKey, splitKey, toEnvelope, toFeedEvent, toState } from './rows.js';
import type { AggregateRow, EventRow } from './rows.js';
import { storeSql } from './sql.js';
import type { AppendResult, FeedPage, MessageProducer, StoredEvent } from './types.js';
import { aggregateRows, duplicateOf, duplicateResult, eventRows, resultOf } from './append-rows.js';
import type { ExistingEvent, Pending } from './append-rows.js';

export interface EventStoreOptions {
  /** Schema holding the store and outbox tables. Default `concord`. */
  readonly schema?: string;
  /** Outbox the produced messages go to. Default: an outbox in the same schema. */
  readonly outbox?: Outbox;
  /** Messages to write for each appended event. Default {@link defaultMessages}. */
  readonly messages?: MessageProducer;
  /** Clock for message timestamps. Default Date.now. */
  readonly now?: () => number;
  /**
   * Largest payload of a message written for an event. An event whose messages would be larger (an
   * applied message carries the aggregate's whole state) is rejected with `CONCORD_AGGREGATE_TOO_LARGE`
   * and changes nothing, so no message the bus refuses is ever committed. Default core's
   * `MAX_PAYLOAD_BYTES`.
   */
  readonly maxPayloadBytes?: number;
  /**
   * Ingest's time (core's `acceptEvent`): called for each new event under its aggregate's lock, just
   * before it is classified, so stamps follow the order events are accepted in. It stamps the event's
   * `serverHlc`, or refuses the event (recorded `rejected` with its code). Default: events as given.
   */
  readonly accept?: (event: EventEnvelope) => Accepted;
}

export interface RecordOutcomeOptions {
  readonly eventId: string;
  readonly outcome: Outcome;
  readonly details?: JsonObject;
  /** Aggregate version the decision produced, if it applied something. */
  readonly version?: number;
}

/** The Postgres event store (DESIGN §3, §7). */
export interface AppendOptions {
  /**
   * The trace context each event's outbox messages continue, by index (e.g. the request that carried
   * it, when one transaction commits several requests). Default: the context active at the append.
   */
  readonly contexts?: readonly (Context | undefined)[];
}

export interface EventStore {
  /**
   * Classifies and records events in the caller's transaction, together with their outbox messages.
   * Aggregates of the batch are locked (in a fixed order) so classification sees a consistent state;
   * events of one batch apply in order. An event id seen before returns `duplicate` with its outcome.
   */
  append(tx: Tx, events: readonly EventEnvelope[], options?: AppendOptions): Promise<AppendResult[]>;
  /**
   * Serialises writers of these aggregates before the transaction writes anything. Call it first in a
   * transaction that writes before appending (e.g. an inbox row): a transaction id is assigned at the
   * first write, and the relay publishes in transaction-id order, so taking the aggregates' locks before
   * any write makes that order the aggregates' commit (version) order. `append` calls it itself.
   */
  lockAggregates(
    tx: Tx,
    aggregates: readonly Pick<EventEnvelope, 'aggregateType' | 'aggregateId'>[],
  ): Promise<void>;
  /** An event and its current outcome. */
  getEvent(sql: Sql, eventId: string): Promise<StoredEvent | undefined>;
  /**
   * What `append` answers for another copy of a stored event id: `duplicate`, with the stored outcome,
   * version, conflict id and rejection error. Undefined when no event has this id.
   */
  duplicate(sql: Sql, eventId: string): Promise<AppendResult | undefined>;
  /** An aggregate's current state; undefined before anything applied to it. */
  getAggregate(sql: Sql, aggregateType: string, aggregateId: string): Promise<AggregateState | undefined>;
  /**
   * Applied events in commit order after `after`; never skips events that commit late. `tenant`: only
   * that tenant's events (a caller's feed), else every tenant's.
   */
  feed(
    sql: Sql,
    options?: { readonly after?: string; readonly limit?: number; readonly tenant?: TenantScope },
  ): Promise<FeedPage>;
  /** Moves an event to a later outcome (conflict → resolved, pending_review …), keeping its history. */
  recordOutcome(tx: Tx, options: RecordOutcomeOptions): Promise<boolean>;
  /** One aggregate's events of every outcome with their outcomes, in commit order, a page at a time. */
  history(sql: Sql, options: HistoryOptions): Promise<HistoryPage>;
}

/** The store's statements are fixed texts run for every batch: prepared once per connection. */

type LockedAggregate = AggregateRow & { aggregate_type: string; aggregate_id: string };

/** An event id the store has seen before, with its current outcome. */

/** The one row of `prepareBatch`. */
interface PreparedBatch {
  readonly aggregates: LockedAggregate[];
  readonly created: [string, string][];
  readonly existing: ExistingEvent[];
}

/** Creates the event store. */
/**
 * A cursor this database issued names a transaction below the oldest one still running (the feed reads
 * only below it, and it only grows). One at or above it was issued by another database — this one
 * restored from a backup, or replaced — and would read nothing, ever: refused, so a client starts over
 * (DESIGN §5, pull sync). Asked only when a page comes back empty.
 */
const assertIssuedHere = async (db: Sql, after: FeedPosition): Promise<void> => {
  const { rows } = await db.query<{ xmin: string }>(
    'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin',
  );
  const xmin = rows[0]?.xmin;
  if (xmin !== undefined && BigInt(after.txId) >= BigInt(xmin)) {
    throw new ConcordError(
      outboxErrors.INVALID_CURSOR,
      'The feed cursor is ahead of this server: it was issued by another database (restored or replaced); read the feed from the start',
      { details: { cursor: encodeCursor(after), reason: 'ahead' } },
    );
  }
};

export const createEventStore = (options: EventStoreOptions = {}): EventStore => {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const sql = storeSql(quoteSchema(schema));
  const outbox = options.outbox ?? createOutbox({ schema });
  // With its own outbox, the store writes the outbox rows in the same statement as the events.
  const inlineOutbox = options.outbox === undefined;
  const produce = options.messages ?? defaultMessages;
  const now = options.now ?? Date.now;
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;

  /**
   * The event's classification, state after it and messages; `CONCORD_AGGREGATE_TOO_LARGE` (state as
   * before) when a message would exceed `maxPayloadBytes`.
   */
  const settle = (given: EventEnvelope, before: AggregateState | undefined, at: string) => {
    const accepted = options.accept?.(given) ?? { ok: true, event: given };
    const event = accepted.ok ? accepted.event : given;
    const classification: Classification = accepted.ok
      ? classify(before, event)
      : { outcome: 'rejected', code: accepted.code, reason: accepted.reason };
    const moves = classification.outcome === 'applied' || classification.outcome === 'merged';
    const state = moves ? applyPatch(before, event) : (before ?? EMPTY_AGGREGATE);
    const result = resultOf(event, classification);
    const messages = produce({ event, classification, result, state, at });
    const largest = Math.max(0, ...messages.map((m) => m.payload.byteLength));
    if (largest <= maxPayloadBytes) return { event, classification, state, result, messages, moves };
    const rejected: Classification = {
      outcome: 'rejected',
      code: coreErrors.AGGREGATE_TOO_LARGE.code,
      reason:
        `a ${classification.outcome} message of this event would be ${largest} bytes, over the ` +
        `${maxPayloadBytes} a message may carry: the aggregate's state is too large`,
    };
    const unchanged = before ?? EMPTY_AGGREGATE;
    const rejection = resultOf(event, rejected);
    return {
      classification: rejected,
      state: unchanged,
      result: rejection,
      messages: produce({ event, classification: rejected, result: rejection, state: unchanged, at }),
      event,
      moves: false,
    };
  };

  /** The lock keys of aggregates: the JSON pair (no separator can collide), distinct and sorted. */
  const lockKeys = (aggregates: readonly Pick<EventEnvelope, 'aggregateType' | 'aggregateId'>[]): string[] =>
    [...new Set(aggregates.map((e) => JSON.stringify([e.aggregateType, e.aggregateId])))].sort();

  const lockAggregates = async (
    tx: Tx,
    aggregates: readonly Pick<EventEnvelope, 'aggregateType' | 'aggregateId'>[],
  ): Promise<void> => {
    if (aggregates.length === 0) return;
    await tx.query(sql.advisoryLocks, [lockKeys(aggregates)], { prepare: 'store.lock' });
  };

  const append = async (
    tx: Tx,
    events: readonly EventEnvelope[],
    appendOptions: AppendOptions = {},
  ): Promise<AppendResult[]> => {
    if (events.length === 0) return [];
    const keys = [...new Set(events.map((e) => aggregateKey(e.aggregateType, e.aggregateId)))].sort();
    const types = keys.map((k) => splitKey(k)[0]);
    const ids = keys.map((k) => splitKey(k)[1]);
    const prepared = await tx.query<PreparedBatch>(
      sql.prepareBatch,
      [lockKeys(events), types, ids, events.map((e) => e.id)],
      { prepare: 'store.prepare' },
    );
    const batch = prepared.rows[0] ?? { aggregates: [], created: [], existing: [] };
    const states = new Map<string, AggregateState | undefined>(
      batch.aggregates.map((row) => [aggregateKey(row.aggregate_type, row.aggregate_id), toState(row)]),
    );
    for (const [type, id] of batch.created) states.set(aggregateKey(type, id), undefined);
    const missed = keys.filter((key) => !states.has(key));
    if (missed.length > 0) {
      // Created by a transaction that committed after the statement's snapshot: lock them now.
      const locked = await tx.query<LockedAggregate>(sql.lockAggregates, [
        missed.map((k) => splitKey(k)[0]),
        missed.map((k) => splitKey(k)[1]),
      ]);
      for (const row of locked.rows)
        states.set(aggregateKey(row.aggregate_type, row.aggregate_id), toState(row));
    }
    const seen = new Map<string, AppendResult>(batch.existing.map((row) => [row.event_id, duplicateOf(row)]));

    const results: AppendResult[] = [];
    const fresh: Pending[] = [];
    const changed = new Set<string>();
    const at = new Date(now()).toISOString();
    for (const [index, given] of events.entries()) {
      const original = seen.get(given.id);
      if (original !== undefined) {
        results.push(original);
        continue;
      }
      const key = aggregateKey(given.aggregateType, given.aggregateId);
      const { event, classification, state, result, messages, moves } = settle(given, states.get(key), at);
      if (moves) {
        states.set(key, state);
        changed.add(key);
      }
      results.push(result);
      seen.set(event.id, { ...duplicateResult(result), id: event.id });
      const context = appendOptions.contexts?.[index];
      fresh.push({ event, classification, result, state, context, messages });
    }
    if (fresh.length === 0) return results;

    const messages: OutboxMessage[] = fresh.flatMap(({ messages: produced, context: own }) =>
      own === undefined ? produced : produced.map((m) => ({ ...m, context: own })),
    );
    if (inlineOutbox) {
      const outboxed = outboxRows(messages);
      await tx.query(
        sql.writeBatch,
        [
          JSON.stringify(eventRows(fresh)),
          JSON.stringify(aggregateRows(changed, states)),
          JSON.stringify(outboxed.rows),
          outboxed.payloads,
        ],
        { prepare: 'store.append' },
      );
      return results;
    }
    await tx.query(sql.insertEvents, [JSON.stringify(eventRows(fresh))], { prepare: 'store.insert' });
    if (changed.size > 0) {
      await tx.query(sql.updateAggregates, [JSON.stringify(aggregateRows(changed, states))], {
        prepare: 'store.update',
      });
    }
    await outbox.add(tx, messages);
    return results;
  };

  const getEvent = async (db: Sql, eventId: string): Promise<StoredEvent | undefined> => {
    const { rows } = await db.query<
      EventRow & { details: JsonObject; outcome_history: StoredEvent['history']; recorded_at: string }
    >(sql.getEvent, [eventId]);
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      event: toEnvelope(row),
      outcome: row.outcome,
      ...(row.version === null ? {} : { version: row.version }),
      ...(row.conflict_id === null ? {} : { conflictId: row.conflict_id }),
      details: row.details,
      history: row.outcome_history,
      recordedAt: row.recorded_at,
    };
  };

  return {
    append,
    lockAggregates,
    getEvent,
    async duplicate(db, eventId) {
      const stored = await getEvent(db, eventId);
      if (stored === undefined) return undefined;
      return duplicateOf({
        event_id: eventId,
        outcome: stored.outcome,
        version: stored.version ?? null,
        conflict_id: stored.conflictId ?? null,
        details: stored.details,
      });
    },
    async getAggregate(db, aggregateType, aggregateId) {
      const { rows } = await db.query<AggregateRow>(sql.getAggregate, [aggregateType, aggregateId]);
      return toState(rows[0]);
    },
    async feed(db, feedOptions = {}) {
      const after = decodeCursor(feedOptions.after);
      const limit = Math.max(1, Math.min(feedOptions.limit ?? 100, 1000));
      const scope = feedOptions.tenant;
      const { rows } = await db.query<EventRow & { tx_id: string; position: string }>(
        scope === undefined ? sql.feed : sql.feedOfTenant,
        [after.txId, after.position, limit, ...(scope === undefined ? [] : [tenantKey(scope.tenant)])],
      );
      const events = rows.map(toFeedEvent);
      if (events.length === 0 && after.txId !== START.txId) await assertIssuedHere(db, after);
      return { events, next: events.at(-1)?.cursor ?? feedOptions.after ?? encodeCursor(after) };
    },
    async recordOutcome(tx, record) {
      const { rowCount } = await tx.query(sql.recordOutcome, [
        record.eventId,
        record.outcome,
        JSON.stringify(record.details ?? {}),
        record.version ?? null,
      ]);
      return rowCount > 0;
    },
    history: (db, historyOptions) => readHistory(db, sql.history, historyOptions),
  };
};
