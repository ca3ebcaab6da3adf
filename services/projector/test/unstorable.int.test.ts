import { describe, expect, it } from 'vitest';
import { useHarness } from './support/harness.js';

/** Text Postgres cannot store (U+0000, an unpaired surrogate) in a path or body: 4xx, never a 500. */
describe('projector routes with unstorable text', () => {
  const harness = useHarness({ cachedTypes: ['task'] });

  const request = async (method: 'GET' | 'POST', url: string, payload?: string) => {
    const response = await harness().http.app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload, headers: { 'content-type': 'application/json' } }),
    });
    return {
      status: response.statusCode,
      code: response.json<{ error?: { code: string } }>().error?.code,
    };
  };

  it('answers an aggregate type or id holding U+0000 not found, for cached and uncached types', async () => {
    for (const url of ['/v1/aggregates/task/%00', '/v1/aggregates/note/a%00b', '/v1/aggregates/%00/x']) {
      expect(await request('GET', url)).toEqual({ status: 404, code: 'CONCORD_AGGREGATE_NOT_FOUND' });
    }
  });

  it('refuses a rebuild of an unstorable aggregate type with 400, and starts none', async () => {
    const before = await request('GET', '/v1/projections/rebuild');
    for (const type of ['\\u0000', 'task\\ud800', '\\udfff']) {
      expect(await request('POST', '/v1/projections/rebuild', `{"aggregateType":"${type}"}`)).toEqual({
        status: 400,
        code: 'CONCORD_REQUEST_INVALID',
      });
    }
    const after = await harness().http.app.inject({ method: 'GET', url: '/v1/projections/rebuild' });
    expect(after.statusCode).toBe(before.status);
    expect(after.json<{ rebuild: unknown }>().rebuild).toBeNull();
  });
});
