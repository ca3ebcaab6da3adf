import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import { Emitter } from '../src/emitter.js';
import { ClientClock } from '../src/hlc.js';
import { parseRetryAfter } from '../src/http.js';
import { readSse } from '../src/sse.js';

const streamOf = (chunks: string[]): ReadableStream<Uint8Array> => {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
};

describe('readSse', () => {
  it('reads events split anywhere across chunks, comments and CRLF included', async () => {
    const events = [];
    for await (const event of readSse(
      streamOf([
        ': connected\nretry: 2000\n\nid: 1\nev',
        'ent: applied\r',
        '\ndata: {"a":',
        '1}\n\n',
        'data: x\ndata: y\n\n',
      ]),
    )) {
      events.push(event);
    }
    expect(events).toEqual([
      { id: '1', event: 'applied', data: '{"a":1}' },
      { id: '1', event: 'message', data: 'x\ny' },
    ]);
  });
});

describe('ClientClock', () => {
  it('issues increasing stamps in the server’s HLC form, folds in server stamps, ignores ones far ahead', () => {
    let now = 1_000;
    const clock = new ClientClock('phone', () => now);
    expect(clock.stamp()).toBe('000000000001000-000000-phone');
    expect(clock.stamp()).toBe('000000000001000-000001-phone');
    now = 900;
    expect(clock.stamp()).toBe('000000000001000-000002-phone');
    clock.receive('000000000002000-000007-ingest-1');
    expect(clock.stamp()).toBe('000000000002000-000008-phone');
    clock.receive('000000090000000-000000-ingest-1');
    clock.receive('not a stamp');
    expect(clock.stamp()).toBe('000000000002000-000009-phone');
    expect(new ClientClock('phone', () => 0, '000000000002000-000009-phone').stamp()).toBe(
      '000000000002000-000010-phone',
    );
  });
});

describe('backoff and Retry-After', () => {
  it('draws a delay below a doubling ceiling, capped', () => {
    const options = { initialMs: 100, maxMs: 1_000, random: () => 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect(backoffDelay(3, { ...options, random: () => 0 })).toBe(0);
  });

  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', 0)).toBe(3_000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
  });
});

describe('Emitter', () => {
  it('calls listeners until they unsubscribe; a throwing listener does not stop the others', () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<{ tick: number }>((error) => errors.push(error));
    const seen: number[] = [];
    emitter.on('tick', () => {
      throw new Error('boom');
    });
    const off = emitter.on('tick', (n) => seen.push(n));
    emitter.emit('tick', 1);
    off();
    emitter.emit('tick', 2);
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(2);
  });
});
