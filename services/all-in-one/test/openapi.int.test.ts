import SwaggerParser from '@apidevtools/swagger-parser';
import { waitFor } from '@concord/bus/testing';
import { openApiPath } from '@concord/service-kit/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentSchema, createChecker, documentedResponse } from './support/openapi-check.js';
import type { Checker } from './support/openapi-check.js';
import { startTestAllInOne } from './support/running.js';
import type { TestAllInOne } from './support/running.js';

/**
 * Issue 19 item 4: `/openapi.json` of the all-in-one lists every route it registered, and every operation,
 * called with a valid request (the table below), answers what the document says for its status: the body
 * validates against the documented schema, with every member it has documented (see `strictSchema`).
 * A route added without a schema, or one whose answers drift from it, fails here.
 */

const POLICY = `version: '1.0'
name: openapi-test
settings: { default_fallback: last_write_wins }
rules:
  - name: review-amount
    conditions: { fields: [amount] }
    resolution: { strategy: manual_review, options: { timeout: 1h } }
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document's JSON, read by the assertions
type Json = Record<string, any>;

interface Example {
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON, unless `contentType` says otherwise (then the text as is). */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly status: number;
  /** The body breaks the documented schema on purpose (the answer is still documented). */
  readonly offSchema?: true;
}

/** What earlier answers told: ids the later examples use. */
const ids: Record<string, string> = {};

const event = (id: string, amount: number) => ({
  id,
  type: 'AmountSet',
  aggregateType: 'invoice',
  aggregateId: 'inv-openapi',
  baseVersion: 0,
  data: { amount },
});

/**
 * One or more valid requests per operation, in the order they run (later ones use what earlier ones
 * made). Operations without one, GETs with no required parameter aside, fail the coverage test.
 */
const EXAMPLES: readonly [string, () => Example][] = [
  ['GET /healthz', () => ({ path: '/healthz', status: 200 })],
  ['GET /readyz', () => ({ path: '/readyz', status: 200 })],
  ['GET /metrics', () => ({ path: '/metrics', status: 200 })],
  ['GET /openapi.json', () => ({ path: '/openapi.json', status: 200 })],
  ['GET /docs', () => ({ path: '/docs', status: 200 })],
  ['GET /docs/{asset}', () => ({ path: '/docs/swagger-ui.css', status: 200 })],
  ['GET /docs/{asset}', () => ({ path: '/docs/nothing.js', status: 404 })],
  ['GET /console', () => ({ path: '/console', status: 308 })],
  ['GET /console/', () => ({ path: '/console/', status: 200 })],
  ['GET /console/{wildcard}', () => ({ path: '/console/console.js', status: 200 })],
  ['GET /console/{wildcard}', () => ({ path: '/console/nothing.js', status: 404 })],
  ['GET /console/config.json', () => ({ path: '/console/config.json', status: 200 })],
  ['POST /v1/events', () => ({ path: '/v1/events', body: { events: [event('oa-1', 10)] }, status: 200 })],
  // An invalid event is a `rejected` result, not a failed request.
  [
    'POST /v1/events',
    () => ({ path: '/v1/events', body: [event('oa-2', 20), { id: 'oa-bad' }], status: 200, offSchema: true }),
  ],
  ['POST /v1/events', () => ({ path: '/v1/events', body: { nothing: true }, status: 400 })],
  ['GET /v1/events/{id}', () => ({ path: '/v1/events/oa-1', status: 200 })],
  ['GET /v1/events/{id}', () => ({ path: '/v1/events/no-such-event', status: 404 })],
  ['GET /v1/events', () => ({ path: '/v1/events', query: { limit: '10' }, status: 200 })],
  ['GET /v1/policy', () => ({ path: '/v1/policy', status: 200 })],
  ['GET /v1/conflicts', () => ({ path: '/v1/conflicts', query: { status: 'pending_review' }, status: 200 })],
  ['GET /v1/conflicts/{id}', () => ({ path: `/v1/conflicts/${ids['conflict']}`, status: 200 })],
  ['GET /v1/conflicts/{id}', () => ({ path: '/v1/conflicts/none', status: 404 })],
  [
    'POST /v1/conflicts/{id}/decision',
    () => ({
      path: `/v1/conflicts/${ids['conflict']}/decision`,
      body: { choose: 'remote', userId: 'u-1', note: 'checked with the customer' },
      status: 200,
    }),
  ],
  [
    'POST /v1/conflicts/{id}/reopen',
    () => ({
      path: `/v1/conflicts/${ids['conflict']}/reopen`,
      body: { userId: 'u-1', reason: 'wrong invoice' },
      status: 200,
    }),
  ],
  [
    'POST /v1/policy/dry-run',
    () => ({
      path: '/v1/policy/dry-run',
      query: { limit: '100' },
      body: POLICY.replace('manual_review, options: { timeout: 1h }', 'last_write_wins'),
      contentType: 'application/yaml',
      status: 200,
    }),
  ],
  ['GET /v1/aggregates/{type}/{id}', () => ({ path: '/v1/aggregates/invoice/inv-openapi', status: 200 })],
  ['GET /v1/aggregates/{type}/{id}', () => ({ path: '/v1/aggregates/invoice/none', status: 404 })],
  [
    'GET /v1/aggregates/{type}/{id}/history',
    () => ({ path: '/v1/aggregates/invoice/inv-openapi/history', query: { limit: '50' }, status: 200 }),
  ],
  ['POST /v1/projections/rebuild', () => ({ path: '/v1/projections/rebuild', body: {}, status: 200 })],
  ['GET /v1/projections/rebuild', () => ({ path: '/v1/projections/rebuild', status: 200 })],
  ['GET /v1/projections/checkpoints', () => ({ path: '/v1/projections/checkpoints', status: 200 })],
  [
    'POST /v1/subscriptions',
    () => ({
      path: '/v1/subscriptions',
      body: {
        url: 'http://127.0.0.1:9/hook?token=secret',
        secret: 'a-long-enough-secret',
        filter: { aggregateTypes: ['invoice'] },
        format: 'cloudevents',
      },
      status: 201,
    }),
  ],
  ['GET /v1/subscriptions', () => ({ path: '/v1/subscriptions', status: 200 })],
  ['GET /v1/subscriptions/{id}', () => ({ path: `/v1/subscriptions/${ids['subscription']}`, status: 200 })],
  [
    'GET /v1/subscriptions/{id}/dead-letters',
    () => ({ path: `/v1/subscriptions/${ids['subscription']}/dead-letters`, status: 200 }),
  ],
  [
    'POST /v1/subscriptions/{id}/secret',
    () => ({
      path: `/v1/subscriptions/${ids['subscription']}/secret`,
      body: { secret: 'another-long-secret', previousSecretTtlSeconds: 60 },
      status: 200,
    }),
  ],
  [
    'DELETE /v1/subscriptions/{id}',
    () => ({ path: `/v1/subscriptions/${ids['subscription']}`, status: 204 }),
  ],
  ['DELETE /v1/subscriptions/{id}', () => ({ path: '/v1/subscriptions/gone', status: 404 })],
  ['GET /v1/stream', () => ({ path: '/v1/stream', query: { lastEventId: '0' }, status: 200 })],
  [
    'GET /v1/dead-letters',
    () => ({ path: '/v1/dead-letters', query: { kind: 'outbox', limit: '10' }, status: 200 }),
  ],
  ['GET /v1/dead-letters', () => ({ path: '/v1/dead-letters', query: { kind: 'webhook' }, status: 200 })],
  [
    'POST /v1/dead-letters/{kind}/{id}/replay',
    () => ({ path: '/v1/dead-letters/bus/no-such-letter/replay', status: 404 }),
  ],
  [
    'POST /v1/dead-letters/{kind}/replay',
    () => ({ path: '/v1/dead-letters/outbox/replay', body: { ids: ['no-such-letter'] }, status: 200 }),
  ],
  [
    'POST /v1/dead-letters/{kind}/replay',
    () => ({
      path: '/v1/dead-letters/webhook/replay',
      body: { errorCode: 'CONCORD_WEBHOOK_DELIVERY_FAILED' },
      status: 200,
    }),
  ],
];

describe('the OpenAPI document of the all-in-one process', () => {
  let concord: TestAllInOne | undefined;
  let base = '';
  let doc: Json;
  let check: Checker;

  beforeAll(async () => {
    concord = await startTestAllInOne({
      label: 'openapi',
      policy: POLICY,
      env: { NOTIFIER_ALLOW_PRIVATE_URLS: 'true' },
    });
    base = concord.url;
    doc = (await (await fetch(`${base}/openapi.json`)).json()) as Json;
    check = createChecker(doc);
  });

  afterAll(async () => {
    await concord?.stop();
  });

  const operations = (): [string, Json][] =>
    Object.entries(doc['paths'] as Json).flatMap(([path, item]) =>
      Object.entries(item as Json).map(([method, op]): [string, Json] => [
        `${method.toUpperCase()} ${path}`,
        op as Json,
      ]),
    );

  it('is a valid OpenAPI 3.1 document with unique operation ids', async () => {
    expect(doc['openapi']).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
    const opIds = operations().map(([, op]) => op['operationId'] as string);
    expect(new Set(opIds).size).toBe(opIds.length);
    for (const [name, op] of operations()) {
      expect(op['summary'], `${name} has a summary`).toEqual(expect.any(String));
      expect(op['tags'], `${name} has tags`).toEqual([expect.any(String)]);
    }
  });

  it('lists every route the process registered, and nothing else', () => {
    const registered = concord!.running.routes.map((route) => `${route.method} ${openApiPath(route.url)}`);
    expect(registered.length).toBeGreaterThanOrEqual(25);
    expect(
      operations()
        .map(([name]) => name)
        .sort(),
    ).toEqual([...new Set(registered)].sort());
  });

  it('answers every operation as the document says, with every member documented', async () => {
    // A conflict in review, for the conflict examples: two writers from version 0 on `amount`.
    await send({ path: '/v1/events', body: [event('oa-c1', 1)], status: 200 }, 'POST');
    await send({ path: '/v1/events', body: [event('oa-c2', 2)], status: 200 }, 'POST');
    ids['conflict'] = await waitFor('a conflict in review', async () => {
      const page = (await (await fetch(`${base}/v1/conflicts?status=pending_review`)).json()) as Json;
      return (page['conflicts'] as Json[])[0]?.['id'] as string | undefined;
    });
    await waitFor(
      'the projection',
      async () => (await fetch(`${base}/v1/aggregates/invoice/inv-openapi`)).ok,
    );

    const exercised = new Set<string>();
    for (const [name, example] of EXAMPLES) {
      const [method = '', template = ''] = name.split(' ');
      const operation = (doc['paths'] as Json)[template]?.[method.toLowerCase()] as Json | undefined;
      expect(operation, `${name} is documented`).toBeDefined();
      const request = example();
      expect(openApiPath(templateOf(request.path, template)), name).toBe(template);
      checkRequest(name, operation!, request);
      const body = await send(request, method, operation, name);
      if (name === 'POST /v1/subscriptions') ids['subscription'] = (body as Json)['id'] as string;
      exercised.add(name);
    }
    // Operations with no example: a GET without required parameters is called as is; any other fails.
    for (const [name, operation] of operations()) {
      if (exercised.has(name)) continue;
      const [method = '', path = ''] = name.split(' ');
      const required = ((operation['parameters'] ?? []) as Json[]).some((p) => p['required'] === true);
      expect(method === 'GET' && !required, `${name}: add an example request to EXAMPLES`).toBe(true);
      await send({ path, status: 200 }, method, operation, name);
    }
  });

  /** The request path as a template: the example's values where the template has parameters. */
  const templateOf = (path: string, template: string): string => {
    const parts = template.split('/');
    return path
      .split('/')
      .map((segment, i) => (/^\{\w+\}$/.test(parts[i] ?? '') ? `:${(parts[i] ?? '').slice(1, -1)}` : segment))
      .join('/');
  };

  /** The example request itself follows the document: query parameters and body. */
  const checkRequest = (name: string, operation: Json, request: Example): void => {
    expect(check.queryErrors(operation, request.query ?? {}), `${name}: query`).toEqual([]);
    if (request.body === undefined || request.status >= 400 || request.offSchema) return;
    const content = (operation['requestBody'] as Json | undefined)?.['content'];
    const type = request.contentType ?? 'application/json';
    const schema = contentSchema(content, type);
    expect(schema, `${name}: a documented ${type} body`).toBeDefined();
    expect(check.errors(schema, request.body), `${name}: body`).toEqual([]);
  };

  /** Sends a request and checks the answer's status, content type and body against the document. */
  const send = async (request: Example, method: string, operation?: Json, name = ''): Promise<unknown> => {
    const query = new URLSearchParams(request.query ?? {}).toString();
    const url = `${base}${request.path}${query === '' ? '' : `?${query}`}`;
    const abort = new AbortController();
    const answer = await fetch(url, {
      method,
      headers: {
        ...(request.body === undefined ? {} : { 'content-type': request.contentType ?? 'application/json' }),
        ...request.headers,
      },
      ...(request.body === undefined
        ? {}
        : { body: typeof request.body === 'string' ? request.body : JSON.stringify(request.body) }),
      signal: abort.signal,
      redirect: 'manual',
    });
    const type = answer.headers.get('content-type') ?? '';
    // A stream does not end: its first bytes are enough.
    const text = type.startsWith('text/event-stream') ? await firstChunk(answer, abort) : await answer.text();
    const label = `${name} → ${answer.status} ${text.slice(0, 300)}`;
    expect(answer.status, label).toBe(request.status);
    if (operation === undefined) return text === '' ? undefined : JSON.parse(text);
    const documented = documentedResponse(doc, operation, answer.status);
    expect(documented, `${label}: status documented`).toBeDefined();
    if (documented!['content'] === undefined) {
      expect(text, `${label}: no body`).toBe('');
      return undefined;
    }
    const schema = contentSchema(documented!['content'], type);
    expect(schema, `${label}: content type ${type} documented`).toBeDefined();
    const body: unknown = /json/.test(type) ? JSON.parse(text) : text;
    expect(check.errors(schema, body), label).toEqual([]);
    return body;
  };
});

const firstChunk = async (answer: Response, abort: AbortController): Promise<string> => {
  const reader = answer.body!.getReader();
  const { value } = (await reader.read()) as { value: Uint8Array | undefined };
  abort.abort();
  return new TextDecoder().decode(value);
};
