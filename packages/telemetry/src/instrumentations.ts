import type { IncomingMessage } from 'node:http';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';

/** Probes and scrapes: answered all day long, never part of an event's story. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
const isProbe = (url: string | undefined): boolean => PROBES.has((url ?? '').split('?')[0] ?? '');

/** The modules these instrumentations patch; the ESM loader hook intercepts only these. */
export const INSTRUMENTED_MODULES = [
  'http',
  'https',
  'node:http',
  'node:https',
  'fastify',
  'pg',
  'pg-pool',
  'amqplib',
  'kafkajs',
  'ioredis',
  'pino',
] as const;

/**
 * The contrib instrumentations every service loads. Database and Redis spans only inside a trace
 * (`requireParentSpan`), so the relay's polling, readiness probes and BullMQ's blocking reads do not
 * each start a trace of their own; pino adds `trace_id`/`span_id` but does not ship logs (stdout is
 * the log pipeline).
 */
export const concordInstrumentations = (): Instrumentation[] => [
  new HttpInstrumentation({
    ignoreIncomingRequestHook: (request: IncomingMessage) => isProbe(request.url),
  }),
  new FastifyOtelInstrumentation({
    registerOnInitialization: true,
    ignorePaths: (route) => isProbe(route.url),
  }),
  new PgInstrumentation({ requireParentSpan: true }),
  new AmqplibInstrumentation(),
  new KafkaJsInstrumentation(),
  new IORedisInstrumentation({ requireParentSpan: true }),
  new PinoInstrumentation({ disableLogSending: true }),
];
