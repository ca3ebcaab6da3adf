import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createMemoryJobQueue } from '../src/queue/memory.js';
import type { DeliveryRef } from '../src/store/deliveries.js';
import { metricValue, startNotifier, waitFor } from './support/harness.js';
import type { Harness } from './support/harness.js';
import { openStream } from './support/sse-client.js';
import type { SseClient } from './support/sse-client.js';

const eventIdOf = (data: string): string => (JSON.parse(data) as { eventId: string }).eventId;

describe('GET /v1/stream on Postgres', () => {
  let database: TestDatabase;
  let harness: Harness;
  const clients: SseClient[] = [];
  const open = async (query: string, headers: Record<string, string> = {}) => {
    const client = await openStream(`${harness.url}/v1/stream${query}`, headers);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    harness = await startNotifier({
      db: database.db,
      schema: database.schema,
      jobQueue: createMemoryJobQueue<DeliveryRef>({
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      }),
      settings: { sseHeartbeatMs: 150 },
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await harness?.shutdown();
    await database?.close();
  });

  it('streams matching notifications with id, event and data, and heartbeats', async () => {
    const client = await open('?aggregateIds=sse-*');
    expect(client.status).toBe(200);
    await waitFor(
      'client registered',
      async () => (await metricValue(harness.metrics, 'concord_notifier_sse_clients')) === 1,
    );
    await harness.publishApplied('e-sse-1', { aggregateId: 'sse-1' });
    await harness.publishApplied('e-other-1', { aggregateId: 'other-1' });
    await harness.publishOutcome('e-sse-1', { aggregateId: 'sse-1', outcome: 'applied', final: true });
    await waitFor('two events', () => client.events.length >= 2);
    await waitFor('a heartbeat', () => client.comments.includes('heartbeat'));

    const kinds = client.events.map((event) => event.event).sort();
    expect(kinds).toEqual(['applied', 'outcome']);
    for (const event of client.events) {
      const data = JSON.parse(event.data);
      expect(event.id).toMatch(/^\d+$/);
      expect(data.id).toBe(event.id);
      expect(data.kind).toBe(event.event);
      expect(data.aggregateId).toBe('sse-1');
    }
    const outcome = client.events.find((event) => event.event === 'outcome');
    expect(JSON.parse(outcome?.data ?? '{}')).toMatchObject({
      eventId: 'e-sse-1',
      outcome: 'applied',
      data: { final: true },
    });
    client.close();
    await waitFor(
      'client gone',
      async () => (await metricValue(harness.metrics, 'concord_notifier_sse_clients')) === 0,
    );
  });

  it('resumes after Last-Event-ID with exactly the events missed, in log order', async () => {
    const first = await open('?aggregateIds=resume-*');
    for (let i = 1; i <= 3; i += 1)
      await harness.publishApplied(`e-resume-${i}`, { aggregateId: 'resume-1', version: i });
    await waitFor('three events', () => first.events.length === 3);
    const lastSeen = first.events.at(-1)?.id ?? '';
    first.close();

    for (let i = 4; i <= 6; i += 1)
      await harness.publishApplied(`e-resume-${i}`, { aggregateId: 'resume-1', version: i });
    await waitFor('all six logged', async () => {
      const { rows } = await database.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM concord.notifier_log WHERE aggregate_id = 'resume-1'`,
      );
      return rows[0]?.n === 6;
    });

    const resumed = await open('?aggregateIds=resume-*', { 'last-event-id': lastSeen });
    await waitFor('three missed events', () => resumed.events.length === 3);
    await harness.publishApplied('e-resume-7', { aggregateId: 'resume-1', version: 7 });
    await waitFor('the live event after catching up', () => resumed.events.length === 4);
    expect(resumed.events.map((event) => eventIdOf(event.data))).toEqual([
      'e-resume-4',
      'e-resume-5',
      'e-resume-6',
      'e-resume-7',
    ]);
    const ids = resumed.events.map((event) => BigInt(event.id ?? '0'));
    expect(ids.every((id) => id > BigInt(lastSeen))).toBe(true);

    const replay = await open('?aggregateIds=resume-*&lastEventId=0');
    await waitFor('full replay', () => replay.events.length === 7);
    expect(replay.events.map((event) => eventIdOf(event.data))).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((i) => `e-resume-${i}`),
    );
  });

  it('a stream joining while another is live gets every later notification once, in log order', async () => {
    const first = await open('?aggregateIds=join-*');
    const write = async (from: number, to: number) => {
      for (let i = from; i <= to; i += 1)
        await harness.publishApplied(`e-join-${i}`, { aggregateId: 'join-1', version: i });
    };
    const writing = write(1, 30);
    await waitFor('the first stream under way', () => first.events.length >= 5);
    const second = await open('?aggregateIds=join-*');
    await writing;
    await write(31, 40);
    await waitFor('forty events on the first stream', () => first.events.length === 40);
    await waitFor(
      'the second stream at the same end',
      () => second.events.at(-1)?.id === first.events.at(-1)?.id,
    );
    const firstIds = first.events.map((event) => event.id);
    const secondIds = second.events.map((event) => event.id);
    expect(first.events.map((event) => eventIdOf(event.data))).toEqual(
      Array.from({ length: 40 }, (_, i) => `e-join-${i + 1}`),
    );
    expect(new Set(secondIds).size).toBe(secondIds.length);
    expect(secondIds).toEqual(firstIds.slice(firstIds.indexOf(secondIds[0])));
    expect(second.events.map((event) => eventIdOf(event.data))).toContain('e-join-31');
  });

  it('fans out to several clients with their own filters', async () => {
    const tasks = await open('?aggregateTypes=fan-task');
    const outcomes = await open('?topics=concord.events.outcome&aggregateTypes=fan-task');
    await harness.publishApplied('e-fan-1', { aggregateId: 'fan-1', aggregateType: 'fan-task' });
    await harness.publishOutcome('e-fan-1', { aggregateId: 'fan-1', aggregateType: 'fan-task' });
    await waitFor('tasks client', () => tasks.events.length === 2);
    await waitFor('outcomes client', () => outcomes.events.length === 1);
    expect(outcomes.events[0]?.event).toBe('outcome');
  });

  // Issue 16: any client's stream filter runs on every notification; backtracking patterns held the event
  // loop for seconds per notification (these three ids took a backtracking matcher over 10 s).
  it('answers /healthz promptly while a stream with hostile patterns meets hostile ids', async () => {
    const query = new URLSearchParams();
    for (const pattern of [
      're:^(a+)+$',
      ...Array.from({ length: 10 }, (_, i) => `${'*a'.repeat(6 + i)}*b`),
      'hostile-end',
    ])
      query.append('aggregateIds', pattern);
    const client = await open(`?${query.toString()}`);
    for (let i = 1; i <= 3; i += 1)
      await harness.publishApplied(`e-hostile-${i}`, { aggregateId: `${'a'.repeat(25)}!` });
    await harness.publishApplied('e-hostile-end', { aggregateId: 'hostile-end' });
    let slowest = 0;
    while (client.events.length === 0) {
      const start = performance.now();
      expect((await fetch(`${harness.url}/healthz`)).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - start);
    }
    expect(client.events.map((event) => eventIdOf(event.data))).toEqual(['e-hostile-end']);
    expect(slowest).toBeLessThan(1_000);
  });

  it('refuses a malformed filter or Last-Event-ID with stable codes', async () => {
    const badFilter = await fetch(`${harness.url}/v1/stream?outcomes=exploded`);
    expect(badFilter.status).toBe(400);
    expect(((await badFilter.json()) as { error: { code: string } }).error.code).toBe(
      'CONCORD_FILTER_INVALID',
    );
    const badCursor = await fetch(`${harness.url}/v1/stream`, { headers: { 'last-event-id': 'abc' } });
    expect(badCursor.status).toBe(400);
    expect(((await badCursor.json()) as { error: { code: string } }).error.code).toBe(
      'CONCORD_STREAM_CURSOR_INVALID',
    );
  });
});
