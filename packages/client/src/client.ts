import { Autosync, DEFAULT_AUTOSYNC } from './autosync.js';
import { Emitter } from './emitter.js';
import {
  asClientError,
  clientErrors,
  ConcordClientError,
  SERVER_BODY_TOO_LARGE,
  SERVER_INVALID_CURSOR,
} from './errors.js';
import { ConcordHttp } from './http.js';
import { ClientClock } from './hlc.js';
import type { ClientEvents, ClientOptions, ConcordClient } from './client-api.js';
import { randomId } from './ids.js';
import { answer, baseVersionFor, nextBatch, release, requeueAll, settle } from './queue.js';
import type { Answered } from './queue.js';
import { bySeq, foldApplied, isConfirmed, localState } from './state.js';
import { aggregateKey } from './store/port.js';
import type { StoreWrite } from './store/port.js';
import type {
  ClientStatus,
  ConfirmedAggregate,
  EventEnvelope,
  OutcomeNotice,
  PendingChange,
  PulledEvent,
  PushResult,
  SyncResult,
} from './types.js';

type OutcomeEvent =
  'applied' | 'merged' | 'conflict' | 'resolved' | 'pending_review' | 'rejected' | 'superseded';

/** Every outcome but `duplicate`, which the client reports as the outcome the event has. */
const isOutcomeEvent = (outcome: string): outcome is OutcomeEvent => outcome !== 'duplicate';

const nonEmpty = (value: unknown, name: string): string => {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConcordClientError(clientErrors.CLIENT_INVALID, `${name} must be a non-empty string`);
  }
  return value;
};

const envelopeOf = (change: PendingChange): EventEnvelope => ({
  id: change.id,
  type: change.type,
  aggregateType: change.aggregateType,
  aggregateId: change.aggregateId,
  baseVersion: change.baseVersion,
  hlc: change.hlc,
  origin: change.origin,
  data: change.data,
  ...(change.metadata === undefined ? {} : { metadata: change.metadata }),
});

/** Creates a client; it loads its store in the background (`ready()`). */
export const createClient = (options: ClientOptions): ConcordClient => {
  const origin = nonEmpty(options.origin, 'origin');
  nonEmpty(options.url, 'url');
  const { store } = options;
  const batchSize = options.batchSize ?? 100;
  const pullLimit = options.pullLimit ?? 500;
  const now = options.now ?? (() => Date.now());
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const http = new ConcordHttp({
    url: options.url,
    fetch: fetchImpl,
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  // A listener that throws is reported as browsers report one of an EventTarget: uncaught, later, and
  // without keeping the other listeners or the client's work from running.
  const emitter = new Emitter<ClientEvents>((error) =>
    queueMicrotask(() => {
      throw error;
    }),
  );

  const pending = new Map<string, PendingChange>();
  const aggregates = new Map<string, ConfirmedAggregate>();
  let cursor: string | undefined;
  let seq = 0;
  let clock: ClientClock;
  let closed = false;
  let status: ClientStatus = { online: false, syncing: false, pending: 0, streaming: false };

  const setStatus = (next: Partial<ClientStatus>): void => {
    const merged = { ...status, ...next, pending: pending.size };
    if (Object.entries(merged).every(([k, v]) => status[k as keyof ClientStatus] === v)) return;
    status = merged;
    emitter.emit('status', status);
  };

  const loaded = (async () => {
    const state = await store.load();
    for (const change of state.pending) pending.set(change.id, change);
    for (const a of state.aggregates) aggregates.set(aggregateKey(a.aggregateType, a.aggregateId), a);
    cursor = state.cursor;
    seq = state.pending.reduce((max, c) => Math.max(max, c.seq), 0);
    clock = new ClientClock(origin, now, state.hlc);
    setStatus({});
  })().catch((error: unknown) => {
    throw asClientError(error, clientErrors.CLIENT_STORE);
  });
  // A failed load is reported by every call that waits for it; this keeps it from being unhandled.
  loaded.catch(() => undefined);

  const ready = async (): Promise<void> => {
    if (closed) throw new ConcordClientError(clientErrors.CLIENT_CLOSED, 'the client is closed');
    await loaded;
  };

  /** Store writes run one after another, in the order the in-memory state changed. */
  let writes: Promise<unknown> = Promise.resolve();
  const persist = (batch: StoreWrite): Promise<void> => {
    const run = writes.then(() => store.write(batch));
    writes = run.catch(() => undefined);
    return run.catch((error: unknown) => {
      throw asClientError(error, clientErrors.CLIENT_STORE);
    });
  };

  const pendingOf = (key: string): PendingChange[] =>
    [...pending.values()].filter((c) => aggregateKey(c.aggregateType, c.aggregateId) === key);

  const changed = (keys: Iterable<string>): void => {
    for (const key of new Set(keys)) {
      const [aggregateType, aggregateId] = JSON.parse(key) as [string, string];
      emitter.emit('change', { aggregateType, aggregateId });
    }
  };

  const tell = (notices: readonly OutcomeNotice[]): void => {
    for (const notice of notices) {
      const { outcome } = notice;
      if (isOutcomeEvent(outcome)) emitter.emit(outcome, notice);
    }
  };

  /** Takes answered changes into the queue: replaced, dropped, successors released. */
  const takeAnswers = (answers: readonly (readonly [PendingChange, Answered])[]): StoreWrite => {
    const put: PendingChange[] = [];
    const drop: string[] = [];
    for (const [original, answered] of answers) {
      const successors = release([...pending.values()], original, answered);
      if (answered.change === undefined) {
        pending.delete(original.id);
        drop.push(original.id);
      } else {
        pending.set(original.id, answered.change);
        put.push(answered.change);
      }
      for (const successor of successors) {
        pending.set(successor.id, successor);
        put.push(successor);
      }
    }
    return { putPending: put, deletePending: drop };
  };

  /** Drops the changes the confirmed state caught up with. */
  const dropConfirmed = (): string[] => {
    const drop: string[] = [];
    for (const change of pending.values()) {
      const confirmed = aggregates.get(aggregateKey(change.aggregateType, change.aggregateId));
      if (isConfirmed(change, confirmed?.version ?? 0)) drop.push(change.id);
    }
    for (const id of drop) pending.delete(id);
    return drop;
  };

  const push = async (pushed: PushResult[], notices: OutcomeNotice[]): Promise<void> => {
    let size = batchSize;
    for (;;) {
      const batch = nextBatch([...pending.values()], size);
      if (batch.length === 0) return;
      let results;
      try {
        results = await http.postEvents(batch.map(envelopeOf));
      } catch (error) {
        // 413: the batch is over the server's limits; halve it, down to one event.
        if (error instanceof ConcordClientError && error.status === 413 && batch.length > 1) {
          size = Math.ceil(batch.length / 2);
          continue;
        }
        if (error instanceof ConcordClientError && error.status === 413) {
          const [only] = batch;
          if (only === undefined) throw error;
          results = [
            {
              id: only.id,
              outcome: 'rejected' as const,
              error: { code: error.serverCode ?? SERVER_BODY_TOO_LARGE, message: error.message },
            },
          ];
        } else {
          throw error;
        }
      }
      setStatus({ online: true });
      const answers = batch.map((sent, i) => {
        const body = results[i] ?? { id: sent.id, outcome: 'rejected' as const };
        const result: PushResult = {
          id: sent.id,
          aggregateType: sent.aggregateType,
          aggregateId: sent.aggregateId,
          outcome: body.outcome,
          ...(body.originalOutcome === undefined ? {} : { originalOutcome: body.originalOutcome }),
          ...(body.version === undefined ? {} : { version: body.version }),
          ...(body.conflictId === undefined ? {} : { conflictId: body.conflictId }),
          ...(body.error === undefined ? {} : { error: body.error }),
        };
        pushed.push(result);
        return [pending.get(sent.id) ?? sent, answer(pending.get(sent.id) ?? sent, result)] as const;
      });
      const write = takeAnswers(answers);
      const dropped = dropConfirmed();
      await persist({ ...write, deletePending: [...(write.deletePending ?? []), ...dropped] });
      const batchNotices = answers.map(([, a]) => a.notice);
      notices.push(...batchNotices);
      tell(batchNotices);
      changed(batch.map((c) => aggregateKey(c.aggregateType, c.aggregateId)));
      setStatus({});
    }
  };

  /** Asks the server about every change held in conflict or review. */
  const followConflicts = async (notices: OutcomeNotice[]): Promise<void> => {
    const open = [...pending.values()].filter(
      (c) => c.status === 'conflict' || c.status === 'pending_review',
    );
    const answers: (readonly [PendingChange, Answered])[] = [];
    for (const change of open.sort(bySeq)) {
      const stored = await http.getEvent(change.id);
      const settled = stored === undefined ? undefined : settle(change, stored);
      if (settled !== undefined) answers.push([change, settled]);
    }
    if (answers.length === 0) return;
    const write = takeAnswers(answers);
    const dropped = dropConfirmed();
    await persist({ ...write, deletePending: [...(write.deletePending ?? []), ...dropped] });
    const settledNotices = answers.map(([, a]) => a.notice);
    notices.push(...settledNotices);
    tell(settledNotices);
    changed(answers.map(([c]) => aggregateKey(c.aggregateType, c.aggregateId)));
    setStatus({});
  };

  const pull = async (pulled: PulledEvent[]): Promise<void> => {
    for (;;) {
      const page = await http.feed(cursor, pullLimit);
      const touched = new Map<string, ConfirmedAggregate>();
      for (const row of page.events) {
        const { event } = row;
        const key = aggregateKey(event.aggregateType, event.aggregateId);
        touched.set(
          key,
          foldApplied(touched.get(key) ?? aggregates.get(key), {
            aggregateType: event.aggregateType,
            aggregateId: event.aggregateId,
            version: row.version,
            data: event.data,
          }),
        );
        pulled.push({
          id: event.id,
          type: event.type,
          aggregateType: event.aggregateType,
          aggregateId: event.aggregateId,
          version: row.version,
          outcome: row.outcome,
        });
        if (event.serverHlc !== undefined) clock.receive(event.serverHlc);
      }
      for (const [key, aggregate] of touched) aggregates.set(key, aggregate);
      cursor = page.next;
      const dropped = dropConfirmed();
      await persist({
        putAggregates: [...touched.values()],
        deletePending: dropped,
        cursor: page.next,
        hlc: clock.last,
      });
      changed(touched.keys());
      setStatus({});
      if (page.events.length < pullLimit) return;
    }
  };

  /**
   * The server does not know the cursor: it was restored from a backup or its data replaced, and what it
   * holds now is the truth. The confirmed state is dropped, to be read again from the start of its feed,
   * and every queued change is pushed again under its id (see `requeueAll`).
   */
  const resync = async (): Promise<void> => {
    const keys = [
      ...aggregates.keys(),
      ...[...pending.values()].map((c) => aggregateKey(c.aggregateType, c.aggregateId)),
    ];
    const requeued = requeueAll([...pending.values()]);
    aggregates.clear();
    cursor = undefined;
    for (const change of requeued) pending.set(change.id, change);
    await persist({ clearAggregates: true, cursor: null, putPending: requeued });
    emitter.emit('resync', { requeued: requeued.length });
    changed(keys);
    setStatus({});
  };

  /** Whether the feed refused the client's cursor as not its own (a server restored or replaced). */
  const cursorRefused = (error: unknown): boolean =>
    cursor !== undefined && error instanceof ConcordClientError && error.serverCode === SERVER_INVALID_CURSOR;

  const pullOrResync = async (pulled: PulledEvent[]): Promise<void> => {
    try {
      await pull(pulled);
    } catch (error) {
      if (!cursorRefused(error)) throw error;
      await resync();
      await pull(pulled);
    }
  };

  const syncOnce = async (): Promise<SyncResult> => {
    await ready();
    const pushed: PushResult[] = [];
    const pulled: PulledEvent[] = [];
    const notices: OutcomeNotice[] = [];
    setStatus({ syncing: true });
    try {
      // With changes to push, the feed is read first: a server that lost the state the changes were based
      // on (restored, replaced) refuses the cursor, and the changes go again on what it holds now.
      if (cursor !== undefined && [...pending.values()].some((c) => c.status === 'queued')) {
        await pullOrResync(pulled);
      }
      await push(pushed, notices);
      await followConflicts(notices);
      await pullOrResync(pulled);
      setStatus({ online: true });
      return { pushed, pulled, outcomes: notices };
    } catch (error) {
      const clientError = asClientError(error, clientErrors.CLIENT_STORE);
      if (clientError.code === clientErrors.CLIENT_OFFLINE.code) setStatus({ online: false });
      throw clientError;
    } finally {
      setStatus({ syncing: false });
    }
  };

  let syncs: Promise<unknown> = Promise.resolve();
  const sync = (): Promise<SyncResult> => {
    const run = syncs.then(syncOnce);
    syncs = run.catch(() => undefined);
    return run;
  };

  const autosync = new Autosync({
    http,
    sync,
    options: { ...DEFAULT_AUTOSYNC, ...options.autosync },
    onStreaming: (streaming) => setStatus({ streaming }),
    onOnline: (online) => setStatus({ online }),
    onError: (error) => emitter.emit('error', error),
  });

  return {
    origin,
    ready,
    async change(input) {
      await ready();
      const aggregateType = nonEmpty(input.aggregateType, 'aggregateType');
      const aggregateId = nonEmpty(input.aggregateId, 'aggregateId');
      const type = nonEmpty(input.type, 'type');
      if (typeof input.data !== 'object' || input.data === null || Array.isArray(input.data)) {
        throw new ConcordClientError(clientErrors.CLIENT_INVALID, 'data must be a JSON object');
      }
      const key = aggregateKey(aggregateType, aggregateId);
      const mine = pendingOf(key);
      const predecessor = mine
        .filter((c) => c.status === 'queued')
        .sort(bySeq)
        .at(-1);
      const change: PendingChange = {
        seq: ++seq,
        id: randomId(),
        aggregateType,
        aggregateId,
        type,
        data: structuredClone(input.data),
        ...(input.metadata === undefined ? {} : { metadata: { ...input.metadata } }),
        baseVersion: baseVersionFor(aggregates.get(key)?.version ?? 0, mine),
        hlc: clock.stamp(),
        origin,
        ...(predecessor === undefined ? {} : { after: predecessor.id }),
        status: 'queued',
      };
      pending.set(change.id, change);
      changed([key]);
      setStatus({});
      await persist({ putPending: [change], hlc: change.hlc });
      if (autosync.running) autosync.kick();
      return change;
    },
    async get(aggregateType, aggregateId) {
      await ready();
      const key = aggregateKey(aggregateType, aggregateId);
      return localState(aggregateType, aggregateId, aggregates.get(key), pendingOf(key));
    },
    async pending() {
      await ready();
      return [...pending.values()].sort(bySeq);
    },
    sync,
    start() {
      if (closed) throw new ConcordClientError(clientErrors.CLIENT_CLOSED, 'the client is closed');
      autosync.start();
    },
    stop: () => autosync.stop(),
    status: () => status,
    on: (event, listener) => emitter.on(event, listener),
    async close() {
      if (closed) return;
      await autosync.stop();
      closed = true;
      await syncs;
      await writes;
      await store.close();
    },
  };
};
