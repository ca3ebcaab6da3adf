import { ROOT_CONTEXT, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Context, Link, Span } from '@opentelemetry/api';
import { runInSpan } from '@concord/bus';
import { ConcordError, coreErrors } from '@concord/core';
import { serviceKitErrors } from './errors.js';

/** What one group commit did, for metrics. */
export interface CommitInfo {
  /** Jobs (requests, messages) that shared the transaction. */
  readonly jobs: number;
  /** Items (events) they carried. */
  readonly items: number;
  /** How long the commit took, in ms. */
  readonly durationMs: number;
  /** Longest time a job of the group waited in the queue before its commit started, in ms. */
  readonly waitedMs: number;
  readonly error?: unknown;
}

export interface BatcherOptions<J, R> {
  /** Most items one commit takes; a job larger than this commits alone (jobs are never split). */
  readonly maxItems: number;
  /** How long the first queued job waits for company before its commit starts. 0: the next macrotask. */
  readonly lingerMs: number;
  /** Commits running at once. */
  readonly maxInFlight: number;
  /** Items a job carries. */
  readonly size: (job: J) => number;
  /**
   * Most bytes one commit takes, by `bytes`; a job larger than this commits alone. With `maxInFlight`
   * it bounds the bytes committing at once. Default: no bound.
   */
  readonly maxBytes?: number;
  /** Bytes a job carries (e.g. its request body's). Default 0. */
  readonly bytes?: (job: J) => number;
  /**
   * Commits a group of jobs at once; resolves with one result per job, in order. `contexts` holds the
   * trace context each job was submitted in (its request's or message's span), for what the commit
   * writes on the job's behalf (outbox rows); the commit itself runs in the span named `spanName`.
   */
  readonly commit: (jobs: readonly J[], contexts: readonly Context[]) => Promise<readonly R[]>;
  /** Name of the span each commit runs in. Default `group commit`. */
  readonly spanName?: string;
  readonly onCommit?: (info: CommitInfo) => void;
  /** The error `submit` rejects with after `close()`. Default: retryable `CONCORD_BATCHER_CLOSED`. */
  readonly closedError?: () => Error;
  readonly now?: () => number;
}

/** Group commit: concurrent jobs share commits, each gets its own result. */
export interface Batcher<J, R> {
  /** Queues a job; resolves with its result, rejects with the error of the commit it was part of. */
  submit(job: J): Promise<R>;
  /** Jobs queued and not yet committing. */
  readonly queued: number;
  /** Commits what is queued now, waits for every commit in flight; later submits fail. Idempotent. */
  close(): Promise<void>;
}

interface Entry<J, R> {
  readonly job: J;
  readonly context: Context;
  readonly size: number;
  readonly bytes: number;
  readonly at: number;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

const tracer = trace.getTracer('@concord/service-kit');

const linkTo = (of: Context): Link[] => {
  const spanContext = trace.getSpanContext(of);
  return spanContext === undefined ? [] : [{ context: spanContext }];
};

const defaultClosedError = (): Error =>
  new ConcordError(serviceKitErrors.BATCHER_CLOSED, 'shutting down; retry elsewhere', { retryable: true });

/**
 * Creates a group-commit batcher: jobs submitted while commits run (or within `lingerMs` of the first
 * queued one) go into one `commit` call, up to `maxItems` items, at most `maxInFlight` calls at once.
 */
export const createBatcher = <J, R>(options: BatcherOptions<J, R>): Batcher<J, R> => {
  const now = options.now ?? Date.now;
  const spanName = options.spanName ?? 'group commit';
  const closedError = options.closedError ?? defaultClosedError;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const bytesOf = options.bytes ?? (() => 0);
  const queue: Entry<J, R>[] = [];
  let queuedItems = 0;
  let queuedBytes = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;
  const idle: (() => void)[] = [];

  const takeGroup = (): Entry<J, R>[] => {
    const group: Entry<J, R>[] = [];
    let items = 0;
    let bytes = 0;
    while (queue.length > 0) {
      const next = queue[0] as Entry<J, R>;
      if (group.length > 0 && (items + next.size > options.maxItems || bytes + next.bytes > maxBytes)) break;
      queue.shift();
      items += next.size;
      bytes += next.bytes;
      queuedItems -= next.size;
      queuedBytes -= next.bytes;
      group.push(next);
    }
    return group;
  };

  const run = (group: Entry<J, R>[]): Promise<void> => {
    const contexts = group.map((entry) => entry.context);
    // A lone job's commit belongs to its trace; a shared one is a trace of its own linking every job's,
    // rather than joining whichever job happened to arrive first.
    const lone = group.length === 1 ? contexts[0] : undefined;
    const links = lone === undefined ? contexts.flatMap(linkTo) : [];
    const span = tracer.startSpan(
      spanName,
      { links, attributes: { 'concord.batch.jobs': group.length } },
      lone ?? ROOT_CONTEXT,
    );
    return runInSpan(lone ?? ROOT_CONTEXT, span, (active) => commitGroup(group, contexts, active));
  };

  const commitGroup = async (group: Entry<J, R>[], contexts: Context[], span: Span): Promise<void> => {
    const started = now();
    const items = group.reduce((sum, entry) => sum + entry.size, 0);
    const waitedMs = started - Math.min(...group.map((entry) => entry.at));
    span.setAttribute('concord.batch.items', items);
    try {
      const results = await options.commit(
        group.map((entry) => entry.job),
        contexts,
      );
      if (results.length !== group.length) {
        throw new ConcordError(
          coreErrors.INTERNAL,
          `group commit returned ${results.length} results for ${group.length} jobs`,
        );
      }
      options.onCommit?.({ jobs: group.length, items, durationMs: now() - started, waitedMs });
      group.forEach((entry, i) => entry.resolve(results[i] as R));
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      options.onCommit?.({ jobs: group.length, items, durationMs: now() - started, waitedMs, error });
      for (const entry of group) entry.reject(error);
    }
  };

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0 && inFlight < options.maxInFlight) {
      const group = takeGroup();
      inFlight += 1;
      void run(group).finally(() => {
        inFlight -= 1;
        // Jobs that queued during this commit have waited already: they go now, without lingering.
        if (queue.length > 0) flush();
        else schedule();
      });
    }
  };

  const schedule = (): void => {
    if (queue.length === 0) {
      if (inFlight === 0) for (const wake of idle.splice(0)) wake();
      return;
    }
    if (inFlight >= options.maxInFlight) return;
    if (closing || queuedItems >= options.maxItems || queuedBytes >= maxBytes) {
      flush();
      return;
    }
    timer ??= setTimeout(flush, options.lingerMs);
  };

  return {
    submit(job) {
      if (closing) {
        return Promise.reject(closedError());
      }
      return new Promise<R>((resolve, reject) => {
        const size = options.size(job);
        const bytes = bytesOf(job);
        queue.push({ job, context: context.active(), size, bytes, at: now(), resolve, reject });
        queuedItems += size;
        queuedBytes += bytes;
        schedule();
      });
    },
    get queued() {
      return queue.length;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        if (queue.length === 0 && inFlight === 0) return;
        const drained = new Promise<void>((resolve) => idle.push(resolve));
        flush();
        await drained;
      })();
      return closed;
    },
  };
};
