import type { Logger } from '@concord/core';
import { trace } from '@opentelemetry/api';
import { pino, destination, stdTimeFunctions, type Logger as PinoLogger } from 'pino';

export interface LoggerOptions {
  readonly service: string;
  readonly level: string;
  /** Where the JSON lines go; stdout by default. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * pino JSON logs with the service name and, inside a span, `trace_id` and `span_id`, so a trace in
 * Jaeger leads to its log lines and back.
 */
export function createLogger(options: LoggerOptions): Logger & PinoLogger {
  const stream = options.destination ?? destination({ sync: false });
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: stdTimeFunctions.isoTime,
      mixin() {
        const span = trace.getActiveSpan();
        if (span === undefined) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    stream,
  );
}
