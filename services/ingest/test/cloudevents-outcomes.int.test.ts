import { cloudEventsBus, createMemoryBus, encodeJson } from '@concord/bus';
import type { IncomingMessage, MessageBus } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { Topics } from '@concord/core/messages';
import { createRelay } from '@concord/outbox';
import type { Relay } from '@concord/outbox';
import type { TestDatabase } from '@concord/outbox/testing';
import { createMetrics } from '@concord/service-kit';
import type { ServiceModule } from '@concord/service-kit';
import { Kafka } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIngestModule } from '../src/index.js';
import { event, openDatabase, unique, waitFor } from './support/harness.js';

const NOW = Date.parse('2026-12-04T12:00:00.000Z');

describe('outcome messages as binary-mode CloudEvents (CONCORD_CLOUDEVENTS_OUTCOMES)', () => {
  let t: TestDatabase;
  let bus: MessageBus;
  let module: ServiceModule;
  let relay: Relay;
  const outcomes: IncomingMessage[] = [];
  const submitted: IncomingMessage[] = [];

  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    bus = cloudEventsBus(createMemoryBus({ drainTimeoutMs: 2_000 }), {
      source: '/concord/ingest',
      topics: [Topics.outcome],
      binding: 'kafka',
      now: () => NOW,
    });
    for (const [topic, into] of [
      [Topics.outcome, outcomes],
      [Topics.applied, submitted],
    ] as const) {
      await bus.subscribe({
        group: `collect-${unique()}`,
        topics: [topic],
        handler: (message) => {
          into.push(message);
          return Promise.resolve();
        },
      });
    }
    module = createIngestModule({
      db: t.db,
      bus,
      logger: silentLogger,
      registry: createMetrics('ingest').registry,
      options: { groupCommit: { lingerMs: 1 } },
    });
    await module.start();
    relay = createRelay({ db: t.db, bus, pollIntervalMs: 50, owner: `test-${unique()}` });
    relay.start();
  });
  afterAll(async () => {
    await module?.close();
    await relay?.close();
    await bus?.close();
    await t?.close();
  });

  it('gives each outcome message CloudEvents headers a CloudEvents SDK reads; the payload is unchanged', async () => {
    const aggregateId = `task-${unique()}`;
    const applied = event({ aggregateId });
    const rejected = { id: `bad-${unique()}`, type: 'T', aggregateType: 'task', aggregateId, data: 'no' };
    await bus.publish(Topics.submit, [
      { id: `m-${unique()}`, key: aggregateId, payload: encodeJson({ events: [applied, rejected] }) },
    ]);
    const outcomeOf = (eventId: string) =>
      outcomes.find(
        (m) => (JSON.parse(Buffer.from(m.payload).toString()) as { eventId: string }).eventId === eventId,
      );
    await waitFor(
      'both outcomes',
      () => outcomeOf(applied.id) !== undefined && outcomeOf(rejected.id) !== undefined,
    );

    for (const [source, outcome] of [
      [applied, 'applied'],
      [rejected, 'rejected'],
    ] as const) {
      const message = outcomeOf(source.id);
      if (message === undefined) throw new Error('no outcome');
      const payload = JSON.parse(Buffer.from(message.payload).toString()) as Record<string, unknown>;
      // The SDK's Kafka message: headers, key, and the value as the record's bytes.
      const value = Buffer.from(message.payload);
      const record = { headers: { ...message.headers }, key: message.key, value, body: value };
      const ce = Kafka.toEvent(record);
      if (Array.isArray(ce)) throw new Error('expected one event');
      expect(ce).toMatchObject({
        specversion: '1.0',
        id: message.id,
        source: '/concord/ingest',
        type: 'dev.concord.outcome',
        subject: aggregateId,
        time: '2026-12-04T12:00:00.000Z',
        datacontenttype: 'application/json',
        eventid: source.id,
        outcome,
      });
      expect(ce.data).toEqual(payload);
      expect(payload).toMatchObject({ kind: 'outcome', eventId: source.id, outcome });
    }
    // Only the listed topics: an applied message carries no CloudEvents headers.
    await waitFor('the applied message', () => submitted.length > 0);
    expect(Object.keys(submitted[0]?.headers ?? {}).filter((name) => name.startsWith('ce_'))).toEqual([]);
  });

  it('names the attributes cloudEvents_<name> for the AMQP binding', async () => {
    const amqp = cloudEventsBus(bus, {
      source: '/concord/resolver',
      topics: ['t'],
      binding: 'amqp',
      now: () => NOW,
    });
    const seen: IncomingMessage[] = [];
    await amqp.subscribe({
      group: `amqp-${unique()}`,
      topics: ['t'],
      handler: (message) => {
        seen.push(message);
        return Promise.resolve();
      },
    });
    await amqp.publish('t', [
      {
        id: 'e1:outcome:applied',
        key: 'e1',
        payload: encodeJson({ kind: 'outcome', eventId: 'e1', aggregateId: '' }),
      },
    ]);
    await waitFor('the message', () => seen.length === 1);
    expect(seen[0]?.headers).toMatchObject({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: 'e1:outcome:applied',
      cloudEvents_source: '/concord/resolver',
      cloudEvents_type: 'dev.concord.outcome',
      cloudEvents_subject: 'e1',
      'content-type': 'application/json',
    });
  });
});
