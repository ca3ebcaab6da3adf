/**
 * The relay's metrics add up across replicas: what it did is counters and histograms (Prometheus
 * computes rates and percentiles from them), only current values (backlog, leases, outage) are gauges.
 */
import { createMemoryBus } from '@concord/bus';
import type { OutgoingMessage } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { createOutbox } from '@concord/outbox';
import { createTestDatabase, faultyBus } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMetrics, createRelayModule } from '../src/index.js';
import type { RelayModule } from '../src/index.js';
import { scrape } from './support/scrape.js';
import type { Scrape } from './support/scrape.js';

const COUNTERS = [
  'concord_relay_published_total',
  'concord_relay_failed_attempts_total',
  'concord_relay_dead_letters_total',
  'concord_relay_fenced_total',
] as const;
const HISTOGRAMS = ['concord_relay_publish_lag_seconds', 'concord_relay_publish_batch_seconds'] as const;

const until = async (what: string, check: () => Promise<boolean>) => {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('relay metrics', () => {
  const topic = `relay-metrics.${Date.now()}`;
  const outbox = createOutbox();
  const metrics = createMetrics('relay-test');
  let database: TestDatabase;
  let relay: RelayModule;
  // The key `flaky` is refused twice while the broker is up (a batch, then the key alone): a failed
  // attempt, then published on a retry.
  let flakyAttempts = 0;
  const failWhen = (_topic: string, message: OutgoingMessage) =>
    message.key === 'flaky' && ++flakyAttempts <= 2 ? new Error('refused for now') : undefined;

  const write = (count: number, keys: readonly string[]) =>
    database.db.withTransaction((tx) =>
      outbox.add(
        tx,
        Array.from({ length: count }, (_, i) => ({
          topic,
          key: keys[i % keys.length] ?? 'k',
          payload: new TextEncoder().encode(`m${i}`),
        })),
      ),
    );
  const published = async () => (await scrape(metrics.registry)).value('concord_relay_published_total') ?? 0;

  beforeAll(async () => {
    database = await createTestDatabase({ adminUrl: inject('DATABASE_URL') });
    const bus = faultyBus(createMemoryBus(), { failWhen });
    await bus.declare([{ topic, groups: ['reader'] }]);
    relay = createRelayModule({
      db: database.db,
      bus,
      logger: silentLogger,
      metrics,
      relay: { pollIntervalMs: 20, backoff: { initialDelayMs: 5, maxDelayMs: 10 } },
    });
    await relay.start();
  });

  afterAll(async () => {
    await relay?.close();
    await database?.close();
  });

  it('counts what the relay did in counters that only grow, and its lag and batches in histograms', async () => {
    await write(20, ['a', 'b', 'c', 'flaky']);
    await until('20 published', async () => (await published()) === 20);
    const first = await scrape(metrics.registry);
    for (const name of COUNTERS) expect(first.types.get(name), name).toBe('counter');
    for (const name of HISTOGRAMS) expect(first.types.get(name), name).toBe('histogram');
    // No in-process rates or percentiles: they would not aggregate across relays.
    expect(first.types.has('concord_relay_published_per_second')).toBe(false);
    expect(first.types.has('concord_relay_publish_lag_p99_seconds')).toBe(false);
    for (const name of ['concord_outbox_pending_messages', 'concord_relay_partitions'])
      expect(first.types.get(name), name).toBe('gauge');
    expect(first.value('concord_relay_failed_attempts_total')).toBeGreaterThan(0);
    expect(first.value('concord_relay_failed_attempts_total')).toBe(relay.relay.counters().failedAttempts);
    expect(first.value('concord_relay_publish_lag_seconds_count')).toBe(20);
    expect(first.value('concord_relay_publish_lag_seconds_bucket', { le: '+Inf' })).toBe(20);
    expect(first.value('concord_relay_publish_batch_seconds_count')).toBeGreaterThan(0);

    await write(10, ['d']);
    await until('30 published', async () => (await published()) === 30);
    const second = await scrape(metrics.registry);
    expect(second.value('concord_relay_publish_lag_seconds_count')).toBe(30);
    expectGrown(first, second);
  });
});

/** Every counter and histogram series of `before` is in `after` with a value at least as large. */
const expectGrown = (before: Scrape, after: Scrape) => {
  const monotonic = before.samples.filter(
    (s) =>
      (COUNTERS as readonly string[]).includes(s.name) || HISTOGRAMS.some((h) => s.name.startsWith(`${h}_`)),
  );
  expect(monotonic.length).toBeGreaterThan(COUNTERS.length);
  for (const sample of monotonic) {
    const later = after.value(sample.name, sample.labels);
    expect(later, `${sample.name} ${JSON.stringify(sample.labels)}`).toBeGreaterThanOrEqual(sample.value);
  }
  expect(after.value('concord_relay_published_total')).toBeGreaterThan(
    before.value('concord_relay_published_total') ?? 0,
  );
};
