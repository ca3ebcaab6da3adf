import type { IncomingMessage } from '@concord/bus';
import { findUnstorableText } from '@concord/core/envelope';
import type { OutcomeMessage } from '@concord/core/messages';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ingest } from './support/harness.js';
import { event, openDatabase, startIngest, unique, waitFor } from './support/harness.js';

const decode = (message: IncomingMessage): OutcomeMessage =>
  JSON.parse(new TextDecoder().decode(message.payload)) as OutcomeMessage;

/** An event as raw JSON text, so it can hold what `JSON.stringify` of an object cannot express. */
const raw = (id: string, aggregateId: string, data: string): string =>
  `{"id":"${id}","type":"TaskUpdated","aggregateType":"task","aggregateId":"${aggregateId}","data":${data}}`;

describe('ingest with hostile events, over HTTP and the submit topic alike', () => {
  let t: TestDatabase;
  let ingest: Ingest;
  let outcomes: IncomingMessage[];
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    ingest = await startIngest(t.db, { options: { groupCommit: { lingerMs: 1 } } });
    outcomes = await ingest.collect('concord.events.outcome');
    ingest.startRelay();
  });
  afterAll(async () => {
    await ingest?.close();
    await t?.close();
  });

  const outcomeOf = (eventId: string) => {
    const message = outcomes.find((m) => m.key === eventId);
    return message === undefined ? undefined : decode(message);
  };

  const submitRaw = (id: string, text: string) =>
    ingest.bus.publish('concord.events.submit', [
      { id: `m-${unique()}`, key: id, payload: new TextEncoder().encode(text) },
    ]);

  const reserved = (id: string) => [
    raw(`${id}-proto`, id, '{"title":"a","__proto__":{"admin":true}}'),
    raw(`${id}-ctor`, id, '{"deep":{"constructor":1}}'),
    JSON.stringify(event({ id: `${id}-ok`, aggregateId: id, data: { title: 'kept' } })),
  ];

  it('refuses a member named __proto__ or constructor per event over HTTP; the batch’s valid event commits', async () => {
    const id = `task-${unique()}`;
    const response = await ingest.post(`{"events":[${reserved(id).join(',')}]}`);
    expect(response.status).toBe(200);
    expect(response.body.results.map((r) => [r.id, r.outcome, r.error?.code])).toEqual([
      [`${id}-proto`, 'rejected', 'CONCORD_EVENT_RESERVED_KEY'],
      [`${id}-ctor`, 'rejected', 'CONCORD_EVENT_RESERVED_KEY'],
      [`${id}-ok`, 'applied', undefined],
    ]);
    expect((await ingest.get(`/v1/events/${id}-proto`)).body).toMatchObject({ outcome: 'rejected' });
  });

  it('refuses the same events identically on the submit topic, each with its rejected outcome', async () => {
    const id = `task-${unique()}`;
    await submitRaw(id, `{"events":[${reserved(id).join(',')}]}`);
    await waitFor('three outcomes', () =>
      [`${id}-proto`, `${id}-ctor`, `${id}-ok`].every((e) => outcomeOf(e) !== undefined),
    );
    expect(outcomeOf(`${id}-proto`)).toMatchObject({
      outcome: 'rejected',
      error: { code: 'CONCORD_EVENT_RESERVED_KEY' },
    });
    expect(outcomeOf(`${id}-ctor`)).toMatchObject({
      outcome: 'rejected',
      error: { code: 'CONCORD_EVENT_RESERVED_KEY' },
    });
    expect(outcomeOf(`${id}-ok`)).toMatchObject({ outcome: 'applied' });
  });

  it('echoes U+0000 and lone surrogates of a rejected event escaped, so its outcome can be stored anywhere', async () => {
    const id = `task-${unique()}`;
    // Each has a usable id and something unstorable the rejected outcome would echo: the aggregate, the
    // type, a top-level member name quoted in the error message.
    const events = [
      `{"id":"${id}-agg","type":"T","aggregateType":"ta\\u0000sk","aggregateId":"${id}\\ud800","data":{}}`,
      `{"id":"${id}-type","type":"T\\u0000","aggregateType":"task","aggregateId":"${id}","data":{"x":"\\udc00"}}`,
      `{"id":"${id}-member","type":"T","aggregateType":"task","aggregateId":"${id}","data":{},"n\\u0000":1}`,
    ];
    const http = await ingest.post(`{"events":[${events.join(',')}]}`);
    expect(http.body.results.map((r) => r.outcome)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(findUnstorableText(http.body, '')).toBeUndefined();

    const ids = [`${id}-agg2`, `${id}-type2`, `${id}-member2`];
    const renamed = events.map((e, i) => e.replace(/"id":"[^"]*"/, `"id":"${ids[i]}"`));
    await submitRaw(id, `{"events":[${renamed.join(',')}]}`);
    await waitFor('three rejected outcomes', () => ids.every((e) => outcomeOf(e) !== undefined));
    for (const eventId of ids) {
      const outcome = outcomeOf(eventId) as OutcomeMessage;
      expect(outcome.outcome).toBe('rejected');
      expect(findUnstorableText(outcome, '')).toBeUndefined();
      // What a consumer (the notifier's log) does with it: store it as jsonb.
      const stored = await t.db.query<{ doc: OutcomeMessage }>('SELECT $1::jsonb AS doc', [
        JSON.stringify(outcome),
      ]);
      expect(stored.rows[0]?.doc).toEqual(outcome);
    }
    expect(outcomeOf(`${id}-agg2`)).toMatchObject({
      aggregateType: 'ta\\u0000sk',
      aggregateId: `${id}\\ud800`,
    });
    expect(outcomeOf(`${id}-member2`)?.error?.message).toContain('n\\u0000');
  });
});
