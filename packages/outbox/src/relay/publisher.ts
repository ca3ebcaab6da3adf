import type { MessageBus, OutgoingMessage } from '@concord/bus';
import { isRetryable } from '@concord/core';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';
import type { Context, Link, Span, Tracer } from '@opentelemetry/api';
import { groupBy } from './row.js';
import type { OutboxRow } from './row.js';
import type { StatsRecorder } from './stats.js';

/** What happened to a batch: rows confirmed by the broker, and each key's first failing row. */
export interface PublishOutcome {
  readonly published: OutboxRow[];
  readonly failures: { readonly row: OutboxRow; readonly error: unknown }[];
  /**
   * The bus was not ready, or nothing of the batch went through and every failure was retryable: a
   * broker outage. `failures` is then empty: no row's attempts count, since with no message taken the
   * relay cannot tell a row the broker refuses from a broker that refuses everything.
   */
  readonly outage: boolean;
}

interface Prepared {
  readonly row: OutboxRow;
  readonly message: OutgoingMessage;
  readonly span: Span;
  readonly parent: Context;
}

const KEY_CONCURRENCY = 32;

/**
 * Publishes rows through the bus with the trace context each row was written under: every row gets a
 * producer span that is a child of the writer's span, and its headers carry that context, so the
 * consumer continues the writer's trace. The batch span links to every row's context.
 */
export class Publisher {
  readonly #bus: MessageBus;
  readonly #tracer: Tracer;
  readonly #stats: StatsRecorder | undefined;

  /** `stats` is told how long each batch took (the relay's `concord_relay_publish_batch_seconds`). */
  constructor(bus: MessageBus, tracer: Tracer, stats?: StatsRecorder) {
    this.#bus = bus;
    this.#tracer = tracer;
    this.#stats = stats;
  }

  async publish(rows: readonly OutboxRow[]): Promise<PublishOutcome> {
    const prepared = rows.map((row) => this.#prepare(row));
    const links: Link[] = prepared.flatMap((p) => {
      const spanContext = trace.getSpanContext(p.parent);
      return spanContext === undefined ? [] : [{ context: spanContext }];
    });
    return this.#tracer.startActiveSpan(
      'outbox.relay.batch',
      { kind: SpanKind.INTERNAL, links, attributes: { 'messaging.batch.message_count': rows.length } },
      async (batchSpan) => {
        const started = performance.now();
        try {
          const outcomes = await Promise.all(
            [...groupBy(prepared, (p) => p.row.topic)].map(([topic, group]) =>
              this.#publishTopic(topic, group),
            ),
          );
          const published = outcomes.flatMap((o) => o.published);
          const failures = outcomes.flatMap((o) => o.failures);
          // Nothing of the batch went through and every failure may pass: the broker is not taking
          // messages (whichever topics and however many keys), so no row's attempts count.
          const outage =
            outcomes.some((o) => o.outage) ||
            (published.length === 0 && failures.length > 0 && failures.every((f) => isRetryable(f.error)));
          const result: PublishOutcome = { published, failures: outage ? [] : failures, outage };
          if (result.failures.length > 0) batchSpan.setStatus({ code: SpanStatusCode.ERROR });
          return result;
        } finally {
          this.#stats?.recordBatch(rows.length, (performance.now() - started) / 1000);
          batchSpan.end();
        }
      },
    );
  }

  #prepare(row: OutboxRow): Prepared {
    const stored: Record<string, string> = {};
    if (row.traceparent !== null) stored.traceparent = row.traceparent;
    if (row.tracestate !== null) stored.tracestate = row.tracestate;
    const parent = row.traceparent === null ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, stored);
    const span = this.#tracer.startSpan(`publish ${row.topic}`, { kind: SpanKind.PRODUCER }, parent);
    const headers: Record<string, string> = { ...row.headers, ...stored, 'message-id': row.message_id };
    // Attributes only for a span that records. Its context goes into the headers (the consumer's
    // parent then) when it records, or when the row had none and a tracing SDK began a trace for it (so
    // the consumer keeps that trace's sampling decision); otherwise the headers keep the writer's
    // context — the same trace and decision — and no tracing SDK costs no object per row.
    const recording = span.isRecording();
    if (recording) {
      span.setAttributes({
        'messaging.system': this.#bus.name,
        'messaging.operation.type': 'publish',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': row.topic,
        'messaging.message.id': row.message_id,
        'concord.message.key': row.key,
        // How long the row waited in the outbox (database clock at write, this host's clock now).
        'concord.outbox.lag_ms': Math.max(0, Date.now() - row.created_ms),
      });
    }
    if (recording || (row.traceparent === null && isSpanContextValid(span.spanContext()))) {
      propagation.inject(trace.setSpan(parent, span), headers);
    }
    return {
      row,
      parent,
      span,
      message: { id: row.message_id, key: row.key, payload: row.payload, headers },
    };
  }

  async #publishTopic(topic: string, group: Prepared[]): Promise<PublishOutcome> {
    try {
      await this.#bus.publish(
        topic,
        group.map((p) => p.message),
      );
      for (const p of group) p.span.end();
      return { published: group.map((p) => p.row), failures: [], outage: false };
    } catch (batchError) {
      if (!this.#bus.isReady()) return this.#failAll(group, batchError);
      return this.#publishPerKey(topic, group);
    }
  }

  /** Isolates failures: each key publishes its rows one by one and stops at its first failure. */
  async #publishPerKey(topic: string, group: Prepared[]): Promise<PublishOutcome> {
    const keys = [...groupBy(group, (p) => p.row.key).values()];
    const published: OutboxRow[] = [];
    const failures: { row: OutboxRow; error: unknown }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const rows = keys[next++] ?? [];
        for (const [index, p] of rows.entries()) {
          try {
            await this.#bus.publish(topic, [p.message]);
            p.span.end();
            published.push(p.row);
          } catch (error) {
            failures.push({ row: p.row, error });
            endFailed(p.span, error);
            for (const held of rows.slice(index + 1)) held.span.end();
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(KEY_CONCURRENCY, keys.length) }, worker));
    return { published, failures, outage: false };
  }

  #failAll(group: Prepared[], error: unknown): PublishOutcome {
    for (const p of group) endFailed(p.span, error);
    return { published: [], failures: [], outage: true };
  }
}

const endFailed = (span: Span, error: unknown) => {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
};
