import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pathSegments, policyLocator } from '../src/policy-locations.js';
import { submitMessages } from '../src/publish/broker.js';
import { retryAfterMs } from '../src/publish/http.js';
import { batchesOf, parseEvents } from '../src/publish/parse.js';
import { parseSse } from '../src/sse.js';

const chunks = (...texts: string[]): AsyncIterable<Uint8Array> =>
  Readable.from(texts.map((text) => new TextEncoder().encode(text)));

describe('publish input', () => {
  it('reads one envelope, an array, { events } and NDJSON', () => {
    expect(parseEvents('{"id":"a"}', 'f')).toEqual([{ id: 'a' }]);
    expect(parseEvents('[{"id":"a"},{"id":"b"}]', 'f')).toHaveLength(2);
    expect(parseEvents('{"events":[{"id":"a"}]}', 'f')).toEqual([{ id: 'a' }]);
    expect(parseEvents('{"id":"a"}\n\n{"id":"b"}\r\n', 'f')).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(parseEvents('  \n', 'f')).toEqual([]);
  });

  it('names the line of NDJSON that is not JSON, and a broken document', () => {
    expect(() => parseEvents('{"id":"a"}\n{nope', 'in.ndjson')).toThrow(/in\.ndjson:2: not a JSON line/);
    expect(() => parseEvents('{nope', 'in.json')).toThrow(/in\.json is not JSON/);
  });

  it('batches by count and by bytes, in order', () => {
    const events = Array.from({ length: 7 }, (_, i) => ({ id: `e${i}` }));
    expect(batchesOf(events, 3, 1_000_000).map((b) => b.length)).toEqual([3, 3, 1]);
    expect(batchesOf(events, 100, 25).map((b) => b.length)).toEqual([2, 2, 2, 1]);
    expect(batchesOf(events, 100, 25).flat()).toEqual(events);
  });

  it('keys submit messages by aggregate and keeps each aggregate run in one message', () => {
    const events = [
      { id: '1', aggregateId: 'a' },
      { id: '2', aggregateId: 'a' },
      { id: '3', aggregateId: 'b' },
      { id: '4', aggregateId: 'a' },
    ];
    const messages = submitMessages(events, 500);
    expect(messages.map((m) => [m.message.key, m.events])).toEqual([
      ['a', 2],
      ['b', 1],
      ['a', 1],
    ]);
    expect(new Set(messages.map((m) => m.message.id)).size).toBe(3);
    expect(submitMessages(events.slice(0, 2), 1).map((m) => m.events)).toEqual([1, 1]);
  });

  it('reads Retry-After as seconds or a date, within bounds', () => {
    expect(retryAfterMs('2', 0)).toBe(2000);
    expect(retryAfterMs(null, 0)).toBe(1000);
    expect(retryAfterMs('3600', 0)).toBe(60_000);
    expect(retryAfterMs(new Date(5_000).toUTCString(), 1_000)).toBe(4_000);
    expect(retryAfterMs('soon', 0)).toBe(1000);
  });
});

describe('policy locations', () => {
  it('splits core problem paths into keys and indices', () => {
    expect(pathSegments('rules[2].resolution.strategy')).toEqual(['rules', 2, 'resolution', 'strategy']);
    expect(pathSegments('options.fields["*"]')).toEqual(['options', 'fields', '*']);
    expect(pathSegments('')).toEqual([]);
  });

  it('finds the node, its nearest ancestor when missing, or the key itself', () => {
    const locator = policyLocator('rules:\n  - name: a\n    resolution: { strategy: x }\n');
    expect(locator.syntax).toEqual([]);
    expect(locator.locate('rules[0].resolution.strategy')).toEqual({ line: 3, column: 29 });
    expect(locator.locate('rules[0].conditions.fields')).toEqual({ line: 2, column: 5 });
    expect(locator.locate('rules[0].resolution', { key: true })).toEqual({ line: 3, column: 5 });
  });

  it('reports YAML syntax errors with their place', () => {
    const [problem] = policyLocator('rules: [\n').syntax;
    expect(problem).toMatchObject({ line: expect.any(Number), column: expect.any(Number) });
  });
});

describe('server-sent events', () => {
  it('parses events split across chunks, skipping comments, with ids and retry', async () => {
    const retries: number[] = [];
    const events = [];
    for await (const event of parseSse(
      chunks(
        ': connected\nretry: 2000\n\nid: 1\nevent: app',
        'lied\ndata: {"a":1}\n\n',
        'id: 2\r\ndata: x\r\ndata: y\r\n\r\n',
      ),
      (ms) => retries.push(ms),
    )) {
      events.push(event);
    }
    expect(retries).toEqual([2000]);
    expect(events).toEqual([
      { id: '1', event: 'applied', data: '{"a":1}' },
      { id: '2', event: 'message', data: 'x\ny' },
    ]);
  });
});
