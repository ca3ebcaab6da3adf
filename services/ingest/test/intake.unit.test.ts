import { isConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { nothingUsable, parseBatch, parseSubmit, unusableMessageError } from '../src/intake.js';
import { parseLimit } from '../src/routes.js';

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-1',
  data: { title: 'x' },
  ...extra,
});

const cloudEvent = {
  specversion: '1.0',
  id: 'ce-1',
  source: 'phone',
  type: 'TaskUpdated',
  subject: 'task-1',
  aggregatetype: 'task',
  data: { title: 'y' },
};

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return isConcordError(error) ? error.code : 'not a ConcordError';
  }
  return 'did not throw';
};

describe('HTTP batch parsing', () => {
  it('validates every event on its own, in order, keeping the valid ones', () => {
    const items = parseBatch({ events: [event('a'), { id: 'b', data: {} }, cloudEvent, 42] }, {});
    expect(items.map((item) => item.valid)).toEqual([true, false, true, false]);
    const invalid = items[1];
    expect(invalid).toMatchObject({
      valid: false,
      id: 'b',
      error: { code: 'CONCORD_EVENT_MISSING_FIELD' },
    });
    expect(items[3]).toMatchObject({
      valid: false,
      id: undefined,
      error: { code: 'CONCORD_EVENT_NOT_OBJECT' },
    });
    expect(items[2]).toMatchObject({ valid: true, event: { id: 'ce-1', aggregateId: 'task-1' } });
  });

  it('reports every problem of an event with its path, and no id when the id itself is bad', () => {
    const [item] = parseBatch({ events: [{ id: '', type: 'T', data: 'nope' }] }, {});
    expect(item?.valid).toBe(false);
    if (item === undefined || item.valid) return;
    expect(item.id).toBeUndefined();
    expect(item.error.details?.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['id', 'aggregateType', 'aggregateId', 'data']),
    );
  });

  it('rejects events over the byte limit with CONCORD_EVENT_TOO_LARGE, not the batch', () => {
    const items = parseBatch(
      { events: [event('big', { data: { blob: 'x'.repeat(5000) } }), event('ok')] },
      {
        maxEventBytes: 2048,
      },
    );
    expect(items[0]).toMatchObject({ valid: false, id: 'big', error: { code: 'CONCORD_EVENT_TOO_LARGE' } });
    expect(items[1]?.valid).toBe(true);
  });

  it('rejects text Postgres cannot store (U+0000, lone surrogates) but keeps escaped look-alikes', () => {
    const items = parseBatch(
      {
        events: [
          event('nul', { data: { s: 'a\u0000b' } }),
          event('surrogate', { metadata: { s: '\ud800' } }),
          event('pair', { data: { s: '😀', t: '\\u0000 written out' } }),
        ],
      },
      {},
    );
    expect(
      items.map((item) =>
        item.valid ? 'ok' : `${item.error.details?.problems[0]?.path}:${item.error.code}`,
      ),
    ).toEqual(['data.s:CONCORD_EVENT_UNSTORABLE', 'metadata.s:CONCORD_EVENT_UNSTORABLE', 'ok']);
    // The id is usable, so the rejection can be recorded and answered under it.
    expect(items[0]).toMatchObject({ valid: false, id: 'nul' });
  });

  it('rejects data nested past the depth limit per event, however deep, and keeps the batch', () => {
    // 20 000 levels are a 40 KB body: far below any size limit, far past any recursive walk's stack.
    const deep = `{"title":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const body = JSON.parse(
      `{"events":[${JSON.stringify(event('ok'))},${JSON.stringify(event('deep', { data: {} })).replace('"data":{}', `"data":${deep}`)}]}`,
    ) as unknown;
    for (const items of [parseBatch(body, {}), parseSubmit(body, {})]) {
      expect(items[0]).toMatchObject({ valid: true, event: { id: 'ok' } });
      expect(items[1]).toMatchObject({
        valid: false,
        id: 'deep',
        error: { code: 'CONCORD_EVENT_TOO_LARGE' },
      });
      expect(items[1]?.valid === false && items[1].error.details?.problems[0]?.message).toMatch(
        /^data\.title(\[0\]){63} nests deeper than 64 levels$/,
      );
    }
  });

  it('throws CONCORD_BATCH_INVALID for a body that is not a batch and CONCORD_BATCH_TOO_LARGE over the limit', () => {
    expect(codeOf(() => parseBatch({ event: [] }, {}))).toBe('CONCORD_BATCH_INVALID');
    expect(codeOf(() => parseBatch('text', {}))).toBe('CONCORD_BATCH_INVALID');
    expect(codeOf(() => parseBatch(null, {}))).toBe('CONCORD_BATCH_INVALID');
    expect(
      codeOf(() => parseBatch({ events: [event('a'), event('b'), event('c')] }, { maxBatchSize: 2 })),
    ).toBe('CONCORD_BATCH_TOO_LARGE');
    expect(parseBatch([event('bare')], {})).toHaveLength(1);
  });
});

describe('submit message parsing', () => {
  it('takes one envelope, one CloudEvent, or a batch', () => {
    expect(parseSubmit(event('one'), {})).toMatchObject([{ valid: true, event: { id: 'one' } }]);
    expect(parseSubmit(cloudEvent, {})).toMatchObject([{ valid: true, event: { id: 'ce-1' } }]);
    expect(parseSubmit({ events: [event('x'), event('y')] }, {})).toHaveLength(2);
  });

  it('knows when a message has nothing usable, and says why with the first problem code', () => {
    const garbage = parseSubmit({ hello: 'world' }, {});
    expect(nothingUsable(garbage)).toBe(true);
    expect(unusableMessageError(garbage).code).toBe('CONCORD_EVENT_MISSING_FIELD');
    expect(unusableMessageError(garbage).retryable).toBe(false);
    expect(nothingUsable(parseSubmit({ id: 'has-id' }, {}))).toBe(false);
    expect(nothingUsable(parseSubmit({ events: [] }, {}))).toBe(true);
  });
});

describe('feed limit', () => {
  it('accepts 1..1000 and defaults to 100', () => {
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
  });

  it.each(['0', '1001', '-1', '2.5', 'ten', '1e3'])('refuses %s with CONCORD_INVALID_LIMIT', (value) => {
    expect(codeOf(() => parseLimit(value))).toBe('CONCORD_INVALID_LIMIT');
  });
});
