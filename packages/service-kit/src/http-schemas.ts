/** Schemas of the routes every service serves (`/healthz`, `/readyz`, `/metrics`), for `/openapi.json`. */

export const HEALTH_SCHEMA = {
  operationId: 'getHealth',
  summary: 'Liveness',
  description: 'Answers while the process runs, whatever its dependencies do.',
  tags: ['operations'],
  response: {
    200: {
      description: 'The process is up.',
      type: 'object',
      required: ['status'],
      properties: { status: { const: 'ok' } },
    },
  },
} as const;

const readiness = (description: string, status: string) => ({
  description,
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { const: status },
    checks: {
      type: 'object',
      description: 'Each dependency (database, broker, modules) and whether it is ready.',
      additionalProperties: { type: 'boolean' },
    },
  },
});

export const READINESS_SCHEMA = {
  operationId: 'getReadiness',
  summary: 'Readiness',
  description:
    'Ready once every module has started and while every dependency answers; 503 from shutdown on.',
  tags: ['operations'],
  response: {
    200: readiness('Ready to take work.', 'ready'),
    503: readiness('Not ready: starting, shutting down, or a dependency is down.', 'not_ready'),
  },
} as const;

export const METRICS_SCHEMA = {
  operationId: 'getMetrics',
  summary: 'Prometheus metrics',
  description: 'Every metric of DESIGN §8, in the Prometheus text format.',
  tags: ['operations'],
  response: {
    200: {
      description: 'The metrics.',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
  },
} as const;
