import type { IncomingMessage } from '@concord/bus';
import { formatHlc } from '@concord/core/versions';
import type { OutcomeMessage } from '@concord/core/messages';
import { createEventStore } from '@concord/outbox';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ingest } from './support/harness.js';
import { event, openDatabase, startIngest, unique, waitFor } from './support/harness.js';

const decode = (message: IncomingMessage): OutcomeMessage =>
  JSON.parse(new TextDecoder().decode(message.payload)) as OutcomeMessage;

/** Issue 18 item 1: ingest stamps its own HLC on every accepted event and bounds writers' clocks. */
describe('ingest server time on Postgres', () => {
  let t: TestDatabase;
  let ingest: Ingest;
  let outcomes: IncomingMessage[];
  const physical = { now: 1_800_000_000_000 };
  const store = createEventStore();
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    ingest = await startIngest(t.db, {
      clock: { now: () => physical.now },
      options: { groupCommit: { lingerMs: 1 }, maxClockSkewMs: 60_000, hlcNode: 'ingest-t' },
    });
    outcomes = await ingest.collect('concord.events.outcome');
    ingest.startRelay();
  });
  afterAll(async () => {
    await ingest?.close();
    await t?.close();
  });

  it('stamps a server HLC on every accepted event, in the order they are accepted, beside the writer’s', async () => {
    const id = `task-${unique()}`;
    await ingest.post({ events: [event({ id: `${id}-w0`, aggregateId: id, data: { title: 'zero' } })] });
    physical.now += 5;
    await ingest.post({
      events: [event({ id: `${id}-w9`, aggregateId: id, baseVersion: 1, data: { title: 'nine' } })],
    });
    physical.now += 5;
    const own = formatHlc({ wall: physical.now - 1_000, logical: 0, node: 'phone' });
    const late = await ingest.post({
      events: [event({ id: `${id}-w1`, aggregateId: id, baseVersion: 1, hlc: own, data: { title: 'one' } })],
    });
    expect(late.body.results[0]?.outcome).toBe('conflict');
    const w9 = (await ingest.get(`/v1/events/${id}-w9`)).body as unknown as { event: { serverHlc?: string } };
    const w1 = (await ingest.get(`/v1/events/${id}-w1`)).body as unknown as {
      event: { serverHlc?: string; hlc?: string };
    };
    expect(w9.event.serverHlc).toBe(formatHlc({ wall: physical.now - 5, logical: 0, node: 'ingest-t' }));
    expect(w1.event).toMatchObject({
      hlc: own,
      serverHlc: formatHlc({ wall: physical.now, logical: 0, node: 'ingest-t' }),
    });
    // The aggregate credits the field to w9 with its server HLC, for later last-write-wins comparisons.
    const state = await store.getAggregate(t.db, 'task', id);
    expect(state?.fieldVersions['title']).toMatchObject({
      eventId: `${id}-w9`,
      serverHlc: w9.event.serverHlc,
    });
    // The pull feed carries it too, so a rebuild credits the field the same way.
    const feed = await store.feed(t.db, { limit: 1000 });
    expect(feed.events.find((e) => e.event.id === `${id}-w9`)?.event.serverHlc).toBe(w9.event.serverHlc);
  });

  it('rejects over HTTP, per event, a writer’s HLC further ahead than the maximum offset', async () => {
    const id = `task-${unique()}`;
    const ahead = formatHlc({ wall: physical.now + 60_001, logical: 0, node: 'phone' });
    const inBounds = formatHlc({ wall: physical.now + 60_000, logical: 0, node: 'phone' });
    const response = await ingest.post({
      events: [
        event({
          id: `${id}-evil`,
          aggregateId: id,
          hlc: '999999999999999-000000-evil',
          data: { title: 'evil' },
        }),
        event({ id: `${id}-ahead`, aggregateId: id, hlc: ahead, data: { title: 'ahead' } }),
        event({ id: `${id}-ok`, aggregateId: id, hlc: inBounds, data: { title: 'ok' } }),
      ],
    });
    expect(response.body.results.map((r) => [r.outcome, r.error?.code])).toEqual([
      ['rejected', 'CONCORD_EVENT_CLOCK_AHEAD'],
      ['rejected', 'CONCORD_EVENT_CLOCK_AHEAD'],
      ['applied', undefined],
    ]);
    const state = await store.getAggregate(t.db, 'task', id);
    expect(state?.fields).toEqual({ title: 'ok' });
    expect((await ingest.get(`/v1/events/${id}-evil`)).body).toMatchObject({ outcome: 'rejected' });
  });

  it('does the same for events submitted on the broker', async () => {
    const id = `task-${unique()}`;
    await ingest.submit(
      {
        events: [
          event({
            id: `${id}-evil`,
            aggregateId: id,
            hlc: '999999999999999-000000-evil',
            data: { title: 'evil' },
          }),
          event({ id: `${id}-ok`, aggregateId: id, data: { title: 'ok' } }),
        ],
      },
      { key: id },
    );
    await waitFor('two outcomes', () => outcomes.filter((m) => m.key.startsWith(id)).length >= 2);
    const evil = decode(outcomes.find((m) => m.key === `${id}-evil`) as IncomingMessage);
    expect(evil).toMatchObject({ outcome: 'rejected', error: { code: 'CONCORD_EVENT_CLOCK_AHEAD' } });
    const ok = (await ingest.get(`/v1/events/${id}-ok`)).body as unknown as {
      outcome: string;
      event: { serverHlc?: string };
    };
    expect(ok.outcome).toBe('applied');
    expect(ok.event.serverHlc).toMatch(/-ingest-t$/);
  });
});
