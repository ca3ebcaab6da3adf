import { createEventStore } from '@concord/outbox';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ingest } from './support/harness.js';
import { event, openDatabase, startIngest, unique, waitFor } from './support/harness.js';

describe('ingest HTTP API on Postgres', () => {
  let t: TestDatabase;
  let ingest: Ingest;
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    ingest = await startIngest(t.db, { options: { bodyLimit: 512 * 1024, groupCommit: { lingerMs: 1 } } });
  });
  afterAll(async () => {
    await ingest?.close();
    await t?.close();
  });

  it('answers every outcome in order, per event, in one batch', async () => {
    const id = `task-${unique()}`;
    const p = `${id}-e`;
    const response = await ingest.post({
      events: [
        event({ id: `${p}1`, aggregateId: id, data: { title: 'a', done: false } }),
        event({ id: `${p}2`, aggregateId: id, baseVersion: 1, data: { title: 'b' } }),
        event({ id: `${p}3`, aggregateId: id, baseVersion: 1, data: { done: true } }),
        event({ id: `${p}4`, aggregateId: id, baseVersion: 1, data: { title: 'c' } }),
        event({ id: `${p}5`, aggregateId: id, baseVersion: 9, data: { title: 'd' } }),
        event({ id: `${p}1`, aggregateId: id, data: { title: 'again' } }),
        { id: `${p}6`, type: 'TaskUpdated', aggregateId: id, data: {} },
        { type: 'TaskUpdated', aggregateType: 'task', aggregateId: id, data: {} },
      ],
    });
    expect(response.status).toBe(200);
    const results = response.body.results as { id: string | null; outcome: string; version?: number }[];
    expect(results.map((r) => [r.id, r.outcome, r.version])).toEqual([
      [`${p}1`, 'applied', 1],
      [`${p}2`, 'applied', 2],
      [`${p}3`, 'merged', 3],
      [`${p}4`, 'conflict', 3],
      [`${p}5`, 'rejected', undefined],
      [`${p}1`, 'duplicate', 1],
      [`${p}6`, 'rejected', undefined],
      [null, 'rejected', undefined],
    ]);
    expect(response.body.results[3]?.conflictId).toBe(`${p}4`);
    expect(response.body.results[4]?.error.code).toBe('CONCORD_CONFLICT_BASE_VERSION_AHEAD');
    expect(response.body.results[5]?.originalOutcome).toBe('applied');
    expect(response.body.results[6]?.error).toMatchObject({
      code: 'CONCORD_EVENT_MISSING_FIELD',
      details: { problems: [{ path: 'aggregateType' }] },
    });
    expect(response.body.results[7]?.error.code).toBe('CONCORD_EVENT_MISSING_FIELD');
  });

  it('answers superseded for a dominated version vector and duplicate across batches', async () => {
    const id = `task-${unique()}`;
    const first = await ingest.post({
      events: [event({ id: `${id}-a`, aggregateId: id, clock: { phone: 2 }, data: { title: 'new' } })],
    });
    expect(first.body.results[0]?.outcome).toBe('applied');
    const second = await ingest.post({
      events: [
        event({ id: `${id}-b`, aggregateId: id, clock: { phone: 1 }, data: { title: 'old' } }),
        event({ id: `${id}-a`, aggregateId: id, clock: { phone: 2 }, data: { title: 'new' } }),
      ],
    });
    expect(second.body.results).toMatchObject([
      { id: `${id}-b`, outcome: 'superseded' },
      { id: `${id}-a`, outcome: 'duplicate', originalOutcome: 'applied', version: 1 },
    ]);
  });

  it('writes a rejected outcome message for an invalid event with a usable id, and none for a stored id', async () => {
    const id = `task-${unique()}`;
    await ingest.post({ events: [event({ id: `${id}-ok`, aggregateId: id })] });
    await ingest.post({
      events: [
        { id: `${id}-bad`, type: 'T', aggregateType: 'task', aggregateId: id, data: 'not an object' },
        { id: `${id}-ok`, data: 'a malformed copy of a stored event' },
      ],
    });
    const { rows } = await t.db.query<{ message_id: string; topic: string }>(
      `SELECT message_id, topic FROM concord.outbox WHERE key LIKE $1 ORDER BY id`,
      [`${id}-%`],
    );
    expect(rows.map((r) => r.message_id)).toEqual([`${id}-ok:outcome:applied`, `${id}-bad:outcome:rejected`]);
    expect(rows.every((r) => r.topic === 'concord.events.outcome')).toBe(true);
  });

  it('records an invalid event with a usable id as rejected: queryable by id, never in the feed', async () => {
    const id = `task-${unique()}`;
    await ingest.post({
      events: [{ id: `${id}-bad`, type: 'T', aggregateType: 'task', aggregateId: id, data: 'not an object' }],
    });
    const found = await ingest.get(`/v1/events/${id}-bad`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({
      event: { id: `${id}-bad`, type: 'T', aggregateType: 'task', aggregateId: id, data: {} },
      outcome: 'rejected',
      details: { error: { code: 'CONCORD_EVENT_WRONG_TYPE' } },
      history: [],
    });
    // The id is taken: a valid event with it is a duplicate of the rejected one.
    const again = await ingest.post({ events: [event({ id: `${id}-bad`, aggregateId: id })] });
    expect(again.body.results).toMatchObject([{ outcome: 'duplicate', originalOutcome: 'rejected' }]);
    const feed = await ingest.get('/v1/events?limit=1000');
    expect(JSON.stringify(feed.body)).not.toContain(`${id}-bad`);
  });

  it('rejects text Postgres cannot store per event, with core’s code and path; the batch’s valid events commit', async () => {
    const id = `task-${unique()}`;
    const raw = (eventId: string, extra: string) =>
      `{"id":"${eventId}","type":"T","aggregateType":"task","aggregateId":"${id}",${extra}}`;
    // Raw JSON, so the escapes reach the server as U+0000 and lone surrogates.
    const response = await ingest.post(
      `{"events":[${[
        raw(`${id}-nul`, '"data":{"title":"a\\u0000b"}'),
        raw(`${id}-ok`, '"data":{"title":"fine 😀"}'),
        raw(`${id}-lone`, '"data":{"tags":["x"]},"metadata":{"note":"\\ud800"}'),
        raw(`${id}-key`, '"data":{"k\\udc00":1}'),
      ].join(',')}]}`,
    );
    expect(response.status).toBe(200);
    const results = response.body.results as {
      id: string;
      outcome: string;
      error?: { code: string; details: { problems: { path: string }[] } };
    }[];
    expect(results.map((r) => [r.id, r.outcome, r.error?.code, r.error?.details.problems[0]?.path])).toEqual([
      [`${id}-nul`, 'rejected', 'CONCORD_EVENT_UNSTORABLE', 'data.title'],
      [`${id}-ok`, 'applied', undefined, undefined],
      [`${id}-lone`, 'rejected', 'CONCORD_EVENT_UNSTORABLE', 'metadata.note'],
      [`${id}-key`, 'rejected', 'CONCORD_EVENT_UNSTORABLE', 'data["k\\udc00"]'],
    ]);
    expect((await ingest.get(`/v1/events/${id}-ok`)).body).toMatchObject({ outcome: 'applied', version: 1 });
    expect((await ingest.get(`/v1/events/${id}-nul`)).body).toMatchObject({
      outcome: 'rejected',
      details: { error: { code: 'CONCORD_EVENT_UNSTORABLE' } },
    });
  });

  it('answers an invalid copy of a stored id duplicate with the stored outcome, as GET does', async () => {
    const id = `task-${unique()}`;
    const malformed = (eventId: string, data: unknown = 5) => ({
      id: eventId,
      type: 'T',
      aggregateType: 'task',
      aggregateId: id,
      data,
    });
    const x = `${id}-x`;
    await ingest.post({ events: [event({ id: x, aggregateId: id })] });
    const copy = await ingest.post({ events: [malformed(x)] });
    expect(copy.body.results).toEqual([
      { id: x, outcome: 'duplicate', originalOutcome: 'applied', version: 1 },
    ]);
    expect((await ingest.get(`/v1/events/${x}`)).body).toMatchObject({ outcome: 'applied', version: 1 });

    // In one batch the valid copy is the one stored, wherever it stands; the invalid one is its duplicate.
    const y = `${id}-y`;
    const mixed = await ingest.post({ events: [malformed(y), event({ id: y, aggregateId: id })] });
    expect(mixed.body.results).toEqual([
      { id: y, outcome: 'duplicate', originalOutcome: 'applied', version: 2 },
      { id: y, outcome: 'applied', version: 2 },
    ]);
    expect((await ingest.get(`/v1/events/${y}`)).body).toMatchObject({ outcome: 'applied', version: 2 });

    // Two invalid copies: the first is recorded as rejected, the second is its duplicate.
    const z = `${id}-z`;
    const twice = await ingest.post({ events: [malformed(z), malformed(z, 'text')] });
    expect(twice.body.results.map((r) => [r.outcome, r.originalOutcome, r.error.code])).toEqual([
      ['rejected', undefined, 'CONCORD_EVENT_WRONG_TYPE'],
      ['duplicate', 'rejected', 'CONCORD_EVENT_WRONG_TYPE'],
    ]);
    expect(twice.body.results[1]?.error).toEqual(twice.body.results[0]?.error);
    const later = await ingest.post({ events: [malformed(z, [])] });
    expect(later.body.results).toMatchObject([{ id: z, outcome: 'duplicate', originalOutcome: 'rejected' }]);
    expect(later.body.results[0]?.error).toEqual(twice.body.results[0]?.error);
    expect((await ingest.get(`/v1/events/${z}`)).body).toMatchObject({
      outcome: 'rejected',
      details: { error: twice.body.results[0]?.error },
    });

    // Duplicates write no outcome message: one per event.
    const { rows } = await t.db.query<{ message_id: string }>(
      `SELECT message_id FROM concord.outbox WHERE topic = 'concord.events.outcome' AND key LIKE $1 ORDER BY id`,
      [`${id}-%`],
    );
    expect(rows.map((r) => r.message_id)).toEqual([
      `${x}:outcome:applied`,
      `${y}:outcome:applied`,
      `${z}:outcome:rejected`,
    ]);
  });

  it('rejects data nested past the depth limit per event, with CONCORD_EVENT_TOO_LARGE; the batch’s valid events commit', async () => {
    const id = `task-${unique()}`;
    // 20 000 levels: a 40 KB body that overflowed the stack of a recursive check (500, batch lost).
    const levels = 20_000;
    const deep = `{"id":"${id}-deep","type":"T","aggregateType":"task","aggregateId":"${id}","data":{"v":${'['.repeat(levels)}${']'.repeat(levels)}}}`;
    const response = await ingest.post(
      `{"events":[${JSON.stringify(event({ id: `${id}-ok`, aggregateId: id }))},${deep}]}`,
    );
    expect(response.status).toBe(200);
    expect(response.body.results.map((r) => [r.id, r.outcome, r.error?.code])).toEqual([
      [`${id}-ok`, 'applied', undefined],
      [`${id}-deep`, 'rejected', 'CONCORD_EVENT_TOO_LARGE'],
    ]);
    expect((await ingest.get(`/v1/events/${id}-ok`)).body).toMatchObject({ outcome: 'applied' });
    expect((await ingest.get(`/v1/events/${id}-deep`)).body).toMatchObject({
      outcome: 'rejected',
      details: { error: { code: 'CONCORD_EVENT_TOO_LARGE' } },
    });
  });

  it('refuses a body that is not a batch with 400 CONCORD_BATCH_INVALID', async () => {
    for (const body of [{ event: [] }, '"text"', '{"events": [', 'null']) {
      const response = await ingest.post(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.code).toBe('CONCORD_BATCH_INVALID');
    }
    const wrongType = await ingest.http.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.code).toBe('CONCORD_BATCH_INVALID');
  });

  it('refuses more than 1000 events with 413 CONCORD_BATCH_TOO_LARGE and a body over the limit with 413', async () => {
    const id = `task-${unique()}`;
    const many = Array.from({ length: 1001 }, (_, i) => ({
      id: `${id}-${i}`,
      type: 'T',
      aggregateType: 't',
      aggregateId: id,
      data: {},
    }));
    const tooMany = await ingest.post({ events: many });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('CONCORD_BATCH_TOO_LARGE');
    const { rows } = await t.db.query('SELECT 1 FROM concord.events WHERE aggregate_id = $1', [id]);
    expect(rows).toHaveLength(0);

    const big = await ingest.post({
      events: [event({ aggregateId: id, data: { blob: 'x'.repeat(600_000) } })],
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('CONCORD_BODY_TOO_LARGE');
  });

  it('serves an event with its outcome, history and — once the resolver recorded one — the decision', async () => {
    const id = `task-${unique()}`;
    await ingest.post({
      events: [
        event({ id: `${id}-1`, aggregateId: id, data: { title: 'a' } }),
        event({ id: `${id}-2`, aggregateId: id, data: { title: 'b' } }),
        event({ id: `${id}-3`, aggregateId: id, baseVersion: 1, data: { title: 'c' } }),
      ],
    });
    const conflict = await ingest.get(`/v1/events/${id}-3`);
    expect(conflict.status).toBe(200);
    expect(conflict.body).toMatchObject({
      event: { id: `${id}-3`, aggregateId: id, data: { title: 'c' } },
      outcome: 'conflict',
      conflictId: `${id}-3`,
      history: [],
    });
    expect(conflict.body.decision).toBeUndefined();

    const decision = { rule: 'lww', strategy: 'last_write_wins', reasons: ['newer hlc'] };
    await t.db.withTransaction((tx) =>
      createEventStore().recordOutcome(tx, {
        eventId: `${id}-3`,
        outcome: 'resolved',
        details: { decision },
        version: 3,
      }),
    );
    const resolved = await ingest.get(`/v1/events/${id}-3`);
    expect(resolved.body).toMatchObject({ outcome: 'resolved', version: 3, decision, details: { decision } });
    expect(resolved.body.history).toMatchObject([{ outcome: 'conflict' }]);

    const missing = await ingest.get(`/v1/events/${id}-nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('CONCORD_EVENT_NOT_FOUND');
    // U+0000 cannot be in a stored id (Postgres text refuses it): not found, without a failed query.
    const nul = await ingest.get(`/v1/events/${id}%00x`);
    expect(nul.status).toBe(404);
    expect(nul.body.error.code).toBe('CONCORD_EVENT_NOT_FOUND');
    // A path that does not percent-decode (a lone surrogate) is refused in the error contract's shape.
    const badUrl = await ingest.get('/v1/events/%ED%A0%80');
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.error.code).toBe('CONCORD_BAD_URL');
  });

  it('pages applied events in commit order with a cursor, and refuses bad limits and cursors', async () => {
    const start = (await ingest.get('/v1/events?limit=1000')).body;
    let cursor = start.next;
    while (true) {
      const page = (await ingest.get(`/v1/events?after=${cursor}&limit=1000`)).body;
      if (page.events.length === 0) break;
      cursor = page.next;
    }
    const id = `task-${unique()}`;
    const posted = Array.from({ length: 5 }, (_, i) =>
      event({ id: `${id}-${i}`, aggregateId: id, data: { n: i } }),
    );
    await ingest.post({ events: posted });
    // The feed reads below the oldest running transaction on the server (late commits are never
    // skipped), so fresh events show once concurrent transactions elsewhere have ended: poll.
    let first = await ingest.get(`/v1/events?after=${cursor}&limit=3`);
    await waitFor('the posted events in the feed', async () => {
      first = await ingest.get(`/v1/events?after=${cursor}&limit=3`);
      return first.body.events.length === 3;
    });
    expect(first.status).toBe(200);
    expect(first.body.events.map((e: { event: { id: string } }) => e.event.id)).toEqual(
      posted.slice(0, 3).map((e) => e.id),
    );
    const second = await ingest.get(`/v1/events?after=${first.body.next}&limit=3`);
    expect(second.body.events.map((e: { event: { id: string } }) => e.event.id)).toEqual(
      posted.slice(3).map((e) => e.id),
    );
    expect(second.body.events[1]).toMatchObject({ outcome: 'applied', version: 5 });

    for (const limit of ['0', '1001', 'x', '-3']) {
      const bad = await ingest.get(`/v1/events?limit=${limit}`);
      expect(bad.status, limit).toBe(400);
      expect(bad.body.error.code).toBe('CONCORD_INVALID_LIMIT');
    }
    const badCursor = await ingest.get('/v1/events?after=bm90LWEtY3Vyc29y');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.code).toBe('CONCORD_INVALID_CURSOR');
    // Numbers out of the range of xid8 (transaction id) and bigint (position) never reach the query.
    for (const position of ['99999999999999999999.1', '18446744073709551616.1', '1.9223372036854775808']) {
      const outOfRange = await ingest.get(`/v1/events?after=${Buffer.from(position).toString('base64url')}`);
      expect(outOfRange.status, position).toBe(400);
      expect(outOfRange.body.error.code).toBe('CONCORD_INVALID_CURSOR');
    }
  });
});
