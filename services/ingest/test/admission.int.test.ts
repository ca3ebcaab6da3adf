/**
 * Admission control (DESIGN §7): above its backlog bounds ingest answers 429 with `Retry-After` and
 * CONCORD_OVERLOADED and holds submit messages; below them it admits again, and nothing accepted or
 * delivered is lost.
 */
import type { ConsumerLagProbe } from '@concord/bus';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ingest } from './support/harness.js';
import { delay, event, openDatabase, startIngest, unique, waitFor } from './support/harness.js';

/** The value of a metric on ingest's /metrics: its only series, or the one with `label` (`k="v"`). */
const gauge = async (ingest: Ingest, name: string, label?: string): Promise<number | undefined> => {
  const text = await ingest.metrics.registry.metrics();
  const line = text
    .split('\n')
    .find(
      (l) =>
        (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && (label === undefined || l.includes(label)),
    );
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

const admitting = async (ingest: Ingest): Promise<boolean> =>
  (await gauge(ingest, 'concord_ingest_admitting')) === 1;

describe('ingest admission control', () => {
  let t: TestDatabase;
  let ingest: Ingest | undefined;
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
  });
  afterEach(async () => {
    await ingest?.close();
    ingest = undefined;
    await t.db.query('DELETE FROM concord.outbox');
  });
  afterAll(() => t?.close());

  it('refuses with 429 above the outbox bound, holds submit messages, and admits again once the outbox drains', async () => {
    const started = await startIngest(t.db, {
      options: { admission: { maxOutboxRows: 30, sampleIntervalMs: 50 }, groupCommit: { lingerMs: 1 } },
    });
    ingest = started;
    const run = unique();
    // No relay yet: each applied event leaves two outbox rows (applied, outcome) pending.
    const first = await started.post({
      events: Array.from({ length: 20 }, (_, i) => event({ id: `${run}-a${i}`, aggregateId: `${run}-${i}` })),
    });
    expect(first.status).toBe(200);
    await waitFor('refusing', async () => !(await admitting(started)));

    const refused = await started.http.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ events: [event({ id: `${run}-refused`, aggregateId: `${run}-r` })] }),
    });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({
      error: { code: 'CONCORD_OVERLOADED', details: { reasons: ['outbox_rows'], outboxRows: 40 } },
    });
    expect((await started.get(`/v1/events/${run}-refused`)).status).toBe(404);

    // A submit message is held, not handled and not dead-lettered.
    const dead = await started.collect('concord.events.submit.dlq');
    await started.submit(event({ id: `${run}-held`, aggregateId: `${run}-h` }));
    await waitFor('held', async () => (await gauge(started, 'concord_ingest_submit_held')) === 1);
    await delay(300);
    expect((await started.get(`/v1/events/${run}-held`)).status).toBe(404);

    // Groups reading the topics the relay publishes (a topic nobody reads keeps its rows).
    await started.collect('concord.events.applied');
    await started.collect('concord.events.outcome');
    started.startRelay();
    await waitFor('admitting again', () => admitting(started));
    await waitFor(
      'the held message handled',
      async () => (await started.get(`/v1/events/${run}-held`)).status === 200,
    );
    expect(
      (await started.post({ events: [event({ id: `${run}-later`, aggregateId: `${run}-l` })] })).status,
    ).toBe(200);
    for (let i = 0; i < 20; i += 1) {
      expect((await started.get(`/v1/events/${run}-a${i}`)).body).toMatchObject({ outcome: 'applied' });
    }
    expect(dead).toEqual([]);
    expect(await gauge(started, 'concord_ingest_refused_total', 'source="http"')).toBe(1);
  });

  it('refuses while the downstream consumer lag is over its bound, and admits again at 80% of it', async () => {
    let lag = 0;
    const consumerLag: ConsumerLagProbe = {
      lag: () => Promise.resolve([{ group: 'projector', topic: 'concord.events.applied', messages: lag }]),
      close: () => Promise.resolve(),
    };
    const started = await startIngest(t.db, {
      consumerLag,
      options: { admission: { maxConsumerLag: 100, sampleIntervalMs: 50, retryAfterSeconds: 3 } },
    });
    ingest = started;
    const post = () => started.post({ events: [event({ aggregateId: `agg-${unique()}` })] });
    expect((await post()).status).toBe(200);
    lag = 101;
    await waitFor('refusing', async () => !(await admitting(started)));
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'CONCORD_OVERLOADED',
      details: { reasons: ['consumer_lag'] },
    });
    // Below the bound but above 80% of it: still refusing, so admission does not flap at the bound.
    lag = 90;
    await delay(300);
    expect((await post()).status).toBe(429);
    lag = 80;
    await waitFor('admitting again', () => admitting(started));
    expect((await post()).status).toBe(200);
    expect(await gauge(started, 'concord_ingest_backlog', 'signal="consumer_lag"')).toBe(80);
  });
});
