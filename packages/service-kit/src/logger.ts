import type { Logger } from '@concord/core';
import { trace } from '@opentelemetry/api';
import { pino, destination, stdTimeFunctions, type Logger as PinoLogger } from 'pino';
import { prettyDestination } from './pretty-log.js';

/** `json` lines, `pretty` lines for people, or `auto`: pretty when stdout is a terminal, else JSON. */
export type LogFormat = 'json' | 'pretty' | 'auto';

export interface LoggerOptions {
  readonly service: string;
  readonly level: string;
  /** Default `auto`. A `destination` given is always written JSON. */
  readonly format?: LogFormat;
  /** Where the JSON lines go; stdout by default. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * pino JSON logs with the service name and, inside a span, `trace_id` and `span_id`, so a trace in
 * Jaeger leads to its log lines and back. On a terminal (or with `format: 'pretty'`) the same records
 * are printed as coloured, readable lines.
 */
export function createLogger(options: LoggerOptions): Logger & PinoLogger {
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  const stream =
    options.destination ??
    (pretty
      ? prettyDestination(process.stdout, process.stdout.isTTY === true)
      : destination({ sync: false }));
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
