/**
 * Admission control's decision over consumer lag (DESIGN §7): it pushes back while a downstream group
 * is behind and draining, and never stays locked out on a lag that refusing cannot reduce — a group
 * nobody consumes, a Kafka partition whose committed offset a retrying record holds, a failing probe.
 */
import { silentLogger } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { Admission } from '../src/admission.js';
import type { AdmissionLimits, BacklogReading } from '../src/admission.js';
import type { GroupLag } from '../src/drain-watch.js';

const LIMITS: AdmissionLimits = {
  maxOutboxRows: 2_000,
  maxOutboxLagMs: 0,
  maxConsumerLag: 1_000,
  sampleIntervalMs: 250,
  retryAfterSeconds: 1,
  stallMs: 10_000,
};

/** An admission whose samples and clock the test drives: `step(lags)` advances 1 s and samples. */
const driven = (limits: AdmissionLimits = LIMITS) => {
  let now = 0;
  let next: BacklogReading = { outboxRows: 0, outboxLagMs: 0 };
  const admission = new Admission({
    sample: () => Promise.resolve(next),
    limits,
    logger: silentLogger,
    now: () => now,
  });
  const step = async (reading: Partial<BacklogReading> & { consumerLags?: readonly GroupLag[] }) => {
    now += 1_000;
    next = { outboxRows: 0, outboxLagMs: 0, ...reading };
    await admission.sampleNow();
    return admission.admitting;
  };
  return { admission, step };
};

const lags = (projector: number, notifier = 0): GroupLag[] => [
  { group: 'projector', topic: 'concord.events.applied', messages: projector },
  { group: 'notifier', topic: 'concord.events.applied', messages: notifier },
];

describe('admission over consumer lag', () => {
  it('refuses while a group is over the bound and draining, and admits at 80% of it', async () => {
    const { admission, step } = driven();
    expect(await step({ consumerLags: lags(500) })).toBe(true);
    expect(await step({ consumerLags: lags(1_500) })).toBe(false);
    expect(admission.refusal()?.error.details).toMatchObject({
      reasons: ['consumer_lag'],
      consumerLag: 1_500,
    });
    // Draining slowly: 60 s over the bound, well past the stall time, and still refused throughout.
    for (let lag = 1_480; lag > 800; lag -= 10) expect(await step({ consumerLags: lags(lag) })).toBe(false);
    expect(await step({ consumerLags: lags(800) })).toBe(true);
  });

  it('admits again once a lag has not fallen for the stall time while refusing, and counts it once it falls', async () => {
    const { admission, step } = driven();
    expect(await step({ consumerLags: lags(3_000, 100) })).toBe(false);
    // Nobody consumes the projector's queue: refusing cannot reduce its lag.
    for (let second = 1; second < 10; second += 1)
      expect(await step({ consumerLags: lags(3_000, 100) })).toBe(false);
    expect(await step({ consumerLags: lags(3_000, 100) })).toBe(true);
    expect(admission.refusal()).toBeUndefined();
    // Not counted while it keeps growing with the work ingest accepts (no consumer)...
    for (let lag = 3_100; lag <= 5_000; lag += 100)
      expect(await step({ consumerLags: lags(lag, 80) })).toBe(true);
    // ...counted again once it falls (its consumer is back), and pushing back while over the bound.
    expect(await step({ consumerLags: lags(4_900, 80) })).toBe(false);
    expect(await step({ consumerLags: lags(2_000, 80) })).toBe(false);
    expect(await step({ consumerLags: lags(700, 80) })).toBe(true);
  });

  it('still counts the other groups while one is not counted', async () => {
    const { step } = driven();
    await step({ consumerLags: lags(3_000, 0) });
    for (let second = 0; second < 10; second += 1) await step({ consumerLags: lags(3_000, 0) });
    expect(await step({ consumerLags: lags(3_000, 0) })).toBe(true);
    expect(await step({ consumerLags: lags(3_000, 1_200) })).toBe(false);
    expect(await step({ consumerLags: lags(3_000, 900) })).toBe(false);
    expect(await step({ consumerLags: lags(3_000, 600) })).toBe(true);
  });

  it('a lag probe that keeps failing while refusing does not lock ingest out', async () => {
    const { step } = driven();
    expect(await step({ consumerLags: lags(1_500) })).toBe(false);
    const failing = { consumerLagError: new Error('This is not the correct coordinator for this group') };
    for (let second = 1; second < 10; second += 1) expect(await step(failing)).toBe(false);
    expect(await step(failing)).toBe(true);
    // The outbox bounds still hold without the probe.
    expect(await step({ ...failing, outboxRows: 2_500 })).toBe(false);
    expect(await step({ ...failing, outboxRows: 100 })).toBe(true);
  });

  it('a lag that falls now and then while refusing counts: its group consumes, however slowly', async () => {
    const { step } = driven({ ...LIMITS, stallMs: 5_000 });
    expect(await step({ consumerLags: lags(2_000) })).toBe(false);
    let lag = 2_000;
    for (let second = 0; second < 60; second += 1) {
      // The relays publish what the outboxes hold (up), the group consumes (down), every 4 s a new low.
      lag += second % 4 === 3 ? -40 : 5;
      expect(await step({ consumerLags: lags(lag) })).toBe(false);
    }
  });
});
