import { brotliCompressSync, gunzipSync, gzipSync } from 'node:zlib';
import type { TestDatabase } from '@concord/outbox/testing';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Body, Ingest } from './support/harness.js';
import { openDatabase, startIngest, unique } from './support/harness.js';

const BODY_LIMIT = 256 * 1024;

/** A task event as a writer's CloudEvents SDK builds it. */
const cloudEvent = (aggregateId: string, extra: Record<string, unknown> = {}) =>
  new CloudEvent({
    id: `ce-${unique()}`,
    source: '/apps/mobile',
    type: 'TaskUpdated',
    subject: aggregateId,
    datacontenttype: 'application/json',
    aggregatetype: 'task',
    data: { title: 'Buy milk' },
    ...extra,
  });

describe('POST /v1/events with CloudEvents (the cloudevents SDK as the client)', () => {
  let t: TestDatabase;
  let ingest: Ingest;
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    ingest = await startIngest(t.db, { options: { bodyLimit: BODY_LIMIT, groupCommit: { lingerMs: 1 } } });
  });
  afterAll(async () => {
    await ingest?.close();
    await t?.close();
  });

  const send = async (message: { headers: Record<string, unknown>; body: unknown }) => {
    const response = await ingest.http.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: message.headers as Record<string, string>,
      payload: message.body as string | Buffer,
    });
    return {
      status: response.statusCode,
      body: JSON.parse(response.body) as Body,
      headers: response.headers,
    };
  };

  const stored = async (id: string) => (await ingest.get(`/v1/events/${encodeURIComponent(id)}`)).body;

  it('accepts a structured-mode event and maps its attributes to the envelope', async () => {
    const aggregateId = `task-${unique()}`;
    const ce = cloudEvent(aggregateId, { metadata: JSON.stringify({ tenant: 'acme' }) });
    const response = await send(HTTP.structured(ce));
    expect(response.status).toBe(200);
    expect(response.body.results).toMatchObject([{ id: ce.id, outcome: 'applied', version: 1 }]);
    expect((await stored(ce.id))['event']).toMatchObject({
      id: ce.id,
      type: 'TaskUpdated',
      aggregateType: 'task',
      aggregateId,
      data: { title: 'Buy milk' },
      metadata: { tenant: 'acme', source: '/apps/mobile' },
    });
  });

  it('accepts one structured event sent as application/json', async () => {
    const ce = cloudEvent(`task-${unique()}`);
    const response = await send({ headers: { 'content-type': 'application/json' }, body: ce.toString() });
    expect(response.status).toBe(200);
    expect(response.body.results).toMatchObject([{ id: ce.id, outcome: 'applied' }]);
  });

  it('accepts a binary-mode event: attributes in ce-* headers, data as the body', async () => {
    const aggregateId = `task-${unique()}`;
    const first = cloudEvent(aggregateId);
    await send(HTTP.binary(first));
    const ce = cloudEvent(aggregateId, { baseversion: 1, origin: 'phone-a', data: { done: true } });
    const message = HTTP.binary(ce);
    expect(message.headers['ce-baseversion']).toBe(1);
    const response = await send(message);
    expect(response.body.results).toMatchObject([{ id: ce.id, outcome: 'applied', version: 2 }]);
    expect((await stored(ce.id))['event']).toMatchObject({
      aggregateId,
      baseVersion: 1,
      origin: 'phone-a',
      data: { done: true },
    });
  });

  it('answers a batch per event: an invalid CloudEvent never costs its valid neighbours', async () => {
    const aggregateId = `task-${unique()}`;
    const good = cloudEvent(aggregateId);
    const bad = { ...cloudEvent(aggregateId).toJSON(), specversion: '0.3', id: `ce-${unique()}` };
    // A Concord envelope is valid in a Concord batch, not in a CloudEvents batch.
    const envelope = { id: `env-${unique()}`, type: 'T', aggregateType: 'task', aggregateId, data: { a: 1 } };
    const response = await send({
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([good, bad, envelope]),
    });
    expect(response.status).toBe(200);
    expect(response.body.results).toMatchObject([
      { id: good.id, outcome: 'applied' },
      { id: bad.id, outcome: 'rejected', error: { code: 'CONCORD_EVENT_BAD_SPECVERSION' } },
      { id: envelope.id, outcome: 'rejected', error: { code: 'CONCORD_EVENT_BAD_SPECVERSION' } },
    ]);
  });

  it('rejects a structured event without the aggregatetype extension, per event', async () => {
    const ce = new CloudEvent({
      id: `ce-${unique()}`,
      source: '/x',
      type: 'T',
      subject: 's',
      data: { a: 1 },
    });
    const response = await send(HTTP.structured(ce));
    expect(response.status).toBe(200);
    expect(response.body.results[0]).toMatchObject({
      id: ce.id,
      outcome: 'rejected',
      error: { code: 'CONCORD_EVENT_MISSING_FIELD', details: { problems: [{ path: 'aggregatetype' }] } },
    });
  });

  it('refuses a batch-mode body that is not an array', async () => {
    const response = await send({
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: cloudEvent('t').toString(),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('CONCORD_BATCH_INVALID');
  });

  it('reads gzip and br request bodies', async () => {
    const aggregateId = `task-${unique()}`;
    const events = [cloudEvent(aggregateId), cloudEvent(aggregateId)];
    const text = JSON.stringify(events);
    const type = { 'content-type': 'application/cloudevents-batch+json' };
    const gz = await send({ headers: { ...type, 'content-encoding': 'gzip' }, body: gzipSync(text) });
    expect(gz.status).toBe(200);
    expect(gz.body.results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
    const again = [cloudEvent(aggregateId)];
    const br = await send({
      headers: { ...type, 'content-encoding': 'br' },
      body: brotliCompressSync(JSON.stringify(again)),
    });
    expect(br.body.results).toMatchObject([{ id: again[0]?.id, outcome: 'applied' }]);
  });

  it('answers a zip bomb 413 CONCORD_BODY_TOO_LARGE: the limit holds after decompression', async () => {
    // 64 MiB of spaces is ~64 KiB of gzip: well under the limit as sent, far over it decompressed.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '), { level: 9 });
    expect(bomb.length).toBeLessThan(BODY_LIMIT);
    const response = await send({
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('CONCORD_BODY_TOO_LARGE');
  });

  it('answers a body that does not decompress 400, and an unknown encoding 415', async () => {
    const corrupt = await send({
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: Buffer.from('{"events":[]}'),
    });
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error.code).toBe('CONCORD_BODY_ENCODING_INVALID');
    const unknown = await send({
      headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' },
      body: '{"events":[]}',
    });
    expect(unknown.status).toBe(415);
    expect(unknown.body.error.code).toBe('CONCORD_UNSUPPORTED_ENCODING');
  });

  it('compresses the results when the client asks', async () => {
    const aggregateId = `task-${unique()}`;
    const events = Array.from({ length: 30 }, () => cloudEvent(aggregateId));
    const response = await ingest.http.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/cloudevents-batch+json', 'accept-encoding': 'gzip' },
      payload: JSON.stringify(events),
    });
    expect(response.headers['content-encoding']).toBe('gzip');
    const body = JSON.parse(gunzipSync(response.rawPayload).toString()) as Body;
    expect(body.results).toHaveLength(30);
  });
});
