import { DLQ_HEADERS, encodeJson } from '@concord/bus';
import type { IncomingMessage } from '@concord/bus';
import type { OutcomeMessage } from '@concord/core/messages';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ingest } from './support/harness.js';
import { event, openDatabase, startIngest, unique, waitFor } from './support/harness.js';

const decode = (message: IncomingMessage): OutcomeMessage =>
  JSON.parse(new TextDecoder().decode(message.payload)) as OutcomeMessage;

describe('concord.events.submit intake on Postgres', () => {
  let t: TestDatabase;
  let ingest: Ingest;
  let outcomes: IncomingMessage[];
  let dead: IncomingMessage[];
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    ingest = await startIngest(t.db, { options: { groupCommit: { lingerMs: 1 } } });
    outcomes = await ingest.collect('concord.events.outcome');
    dead = await ingest.collect('concord.events.submit.dlq');
    ingest.startRelay();
  });
  afterAll(async () => {
    await ingest?.close();
    await t?.close();
  });

  const outcomeOf = (eventId: string) =>
    outcomes.filter((m) => m.key === eventId).map((m) => decode(m).outcome);

  it('takes one envelope, one CloudEvent or a batch, and publishes each outcome', async () => {
    const id = `task-${unique()}`;
    // Keyed by aggregate id (DESIGN §4), so the three messages are handled in order.
    const key = { key: id };
    await ingest.submit(event({ id: `${id}-env`, aggregateId: id, data: { title: 'a' } }), key);
    await ingest.submit(
      {
        specversion: '1.0',
        id: `${id}-ce`,
        source: 'phone',
        type: 'TaskUpdated',
        subject: id,
        aggregatetype: 'task',
        baseversion: 1,
        data: { done: true },
      },
      key,
    );
    await ingest.submit(
      {
        events: [
          event({ id: `${id}-b1`, aggregateId: id, baseVersion: 1, data: { done: false } }),
          event({ id: `${id}-b2`, aggregateId: id, baseVersion: 7, data: { title: 'c' } }),
          { id: `${id}-bad`, type: 'T', aggregateType: 'task', aggregateId: id, data: 42 },
          { type: 'no id at all', data: {} },
        ],
      },
      key,
    );
    await waitFor('five outcomes', () => outcomes.filter((m) => m.key.startsWith(id)).length >= 5);
    expect(outcomeOf(`${id}-env`)).toEqual(['applied']);
    expect(outcomeOf(`${id}-ce`)).toEqual(['applied']);
    expect(outcomeOf(`${id}-b1`)).toEqual(['conflict']);
    expect(outcomeOf(`${id}-b2`)).toEqual(['rejected']);
    expect(outcomeOf(`${id}-bad`)).toEqual(['rejected']);
    const bad = decode(outcomes.find((m) => m.key === `${id}-bad`) as IncomingMessage);
    expect(bad).toMatchObject({ final: true, aggregateId: id, error: { code: 'CONCORD_EVENT_WRONG_TYPE' } });
    expect((await ingest.get(`/v1/events/${id}-ce`)).body).toMatchObject({ outcome: 'applied', version: 2 });
  });

  it('dead-letters a message with nothing usable at once, with the reason', async () => {
    const notJson = `m-${unique()}`;
    await ingest.bus.publish('concord.events.submit', [
      { id: notJson, key: 'k', payload: new TextEncoder().encode('{not json') },
    ]);
    const noId = await ingest.submit({ type: 'T', data: {} });
    await waitFor(
      'two dead letters',
      () => dead.filter((m) => m.id === notJson || m.id === noId).length === 2,
    );
    const headers = (id: string) => dead.find((m) => m.id === id)?.headers ?? {};
    expect(headers(notJson)[DLQ_HEADERS.errorCode]).toBe('CONCORD_MESSAGE_MALFORMED');
    expect(headers(noId)[DLQ_HEADERS.errorCode]).toBe('CONCORD_EVENT_MISSING_FIELD');
    expect(headers(noId)[DLQ_HEADERS.attempts]).toBe('1');
  });

  it('rejects an event nested past the depth limit on its own: the message’s valid events commit, nothing is dead-lettered', async () => {
    const id = `task-${unique()}`;
    const messageId = `m-${unique()}`;
    // Raw bytes: 20 000 levels overflowed the stack of a recursive check (retried, then dead-lettered).
    const levels = 20_000;
    const deep = `{"id":"${id}-deep","type":"T","aggregateType":"task","aggregateId":"${id}","data":{"v":${'['.repeat(levels)}${']'.repeat(levels)}}}`;
    const text = `{"events":[${JSON.stringify(event({ id: `${id}-ok`, aggregateId: id }))},${deep}]}`;
    await ingest.bus.publish('concord.events.submit', [
      { id: messageId, key: id, payload: new TextEncoder().encode(text) },
    ]);
    await waitFor('both outcomes', () => outcomeOf(`${id}-ok`).length + outcomeOf(`${id}-deep`).length === 2);
    expect(outcomeOf(`${id}-ok`)).toEqual(['applied']);
    expect(outcomeOf(`${id}-deep`)).toEqual(['rejected']);
    const deepOutcome = decode(outcomes.find((m) => m.key === `${id}-deep`) as IncomingMessage);
    expect(deepOutcome.error?.code).toBe('CONCORD_EVENT_TOO_LARGE');
    expect(dead.filter((m) => m.id === messageId)).toEqual([]);
  });

  it('writes a message’s events to the tenant its concord-tenant header names, and dead-letters a header naming none', async () => {
    const id = `task-${unique()}`;
    const publish = async (headers: Record<string, string>, data: { title: string }) => {
      const messageId = `m-${unique()}`;
      await ingest.bus.publish('concord.events.submit', [
        {
          id: messageId,
          key: id,
          headers,
          payload: encodeJson(event({ id: `${id}-1`, aggregateId: id, data })),
        },
      ]);
      return messageId;
    };
    await publish({ 'concord-tenant': 'acme' }, { title: 'acme' });
    await publish({}, { title: 'default' });
    const scoped = `acme\u001f${id}-1`;
    await waitFor('both outcomes', () => outcomeOf(scoped).length + outcomeOf(`${id}-1`).length === 2);
    // The same event id is two events: acme's is stored under its scoped id, on its scoped aggregate.
    expect(outcomeOf(scoped)).toEqual(['applied']);
    expect(outcomeOf(`${id}-1`)).toEqual(['applied']);
    const { rows } = await t.db.query<{ aggregate_id: string; data: { title: string } }>(
      'SELECT aggregate_id, data FROM concord.events WHERE event_id = $1',
      [scoped],
    );
    expect(rows).toEqual([{ aggregate_id: `acme\u001f${id}`, data: { title: 'acme' } }]);
    const invalid = await publish({ 'concord-tenant': 'not a tenant' }, { title: 'x' });
    await waitFor('the dead letter', () => dead.some((m) => m.id === invalid));
    expect(dead.find((m) => m.id === invalid)?.headers[DLQ_HEADERS.errorCode]).toBe('CONCORD_TENANT_INVALID');
  });

  it('changes nothing when a submit message is redelivered', async () => {
    const id = `task-${unique()}`;
    const payload = {
      events: [
        event({ id: `${id}-1`, aggregateId: id, data: { title: 'once' } }),
        { id: `${id}-bad`, type: 'T', aggregateType: 'task', aggregateId: id, data: [] },
      ],
    };
    const messageId = await ingest.submit(payload, { key: id });
    await waitFor('the first delivery', async () => (await ingest.get(`/v1/events/${id}-1`)).status === 200);
    await ingest.submit(payload, { id: messageId, key: id });
    // A later message for the same key is handled after the redelivery (per-key order): wait for it.
    await ingest.submit(event({ id: `${id}-2`, aggregateId: id, data: { title: 'after' } }), { key: id });
    await waitFor(
      'the message after it',
      async () => (await ingest.get(`/v1/events/${id}-2`)).status === 200,
    );
    const { rows } = await t.db.query<{ message_id: string }>(
      'SELECT message_id FROM concord.outbox WHERE key LIKE $1 OR key = $2 ORDER BY id',
      [`${id}-%`, id],
    );
    expect(rows.map((r) => r.message_id)).toEqual([
      `${id}-1:applied`,
      `${id}-1:outcome:applied`,
      `${id}-bad:outcome:rejected`,
      `${id}-2:applied`,
      `${id}-2:outcome:applied`,
    ]);
    const inbox = await t.db.query('SELECT 1 FROM concord.inbox WHERE consumer = $1 AND message_id = $2', [
      'ingest',
      messageId,
    ]);
    expect(inbox.rows).toHaveLength(1);
    const metrics = await ingest.metrics.registry.getSingleMetricAsString('concord_ingest_events_total');
    expect(metrics).not.toMatch(/outcome="duplicate",source="submit"/);
  });
});
