import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span } from '@opentelemetry/api';
import type { IncomingMessage } from '../port.js';

const tracer = trace.getTracer('@concord/bus');

/** Where the consumer span says the message came from. */
export interface ConsumeSpanInfo {
  /** `messaging.system`: `rabbitmq`, `kafka`, `memory`. */
  readonly system: string;
  readonly group: string;
  readonly message: IncomingMessage;
}

const attributesOf = ({ system, group, message }: ConsumeSpanInfo): Attributes => {
  const attributes: Attributes = {
    'messaging.system': system,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': message.topic,
    'messaging.consumer.group.name': group,
    'messaging.message.id': message.id,
    'concord.message.key': message.key,
    'concord.delivery.attempt': message.attempt,
  };
  const correlation = message.headers['correlation-id'];
  if (correlation !== undefined) attributes['messaging.message.conversation_id'] = correlation;
  return attributes;
};

/**
 * Runs one handler attempt inside a CONSUMER span continuing the trace the message's headers carry
 * (`traceparent`/`tracestate`, written by the outbox relay or by the publisher), so whatever the handler
 * does — queries, outbox rows, logs — belongs to the message's trace whichever adapter delivered it and
 * whatever ran on this async path before. Without an OpenTelemetry SDK this costs a no-op span.
 */
export const consumeSpan = <T>(info: ConsumeSpanInfo, handler: (span: Span) => Promise<T>): Promise<T> => {
  const parent = propagation.extract(ROOT_CONTEXT, info.message.headers);
  const span = tracer.startSpan(
    `process ${info.message.topic}`,
    { kind: SpanKind.CONSUMER, attributes: attributesOf(info) },
    parent,
  );
  return runInSpan(parent, span, handler);
};

/**
 * Runs `work` with `span` active (as a child of `parent`): a failure is recorded on the span and
 * rethrown, and the span ends either way.
 */
export const runInSpan = <T>(parent: Context, span: Span, work: (span: Span) => Promise<T>): Promise<T> =>
  context.with(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
