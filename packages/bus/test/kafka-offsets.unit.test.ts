import { ConcordError, silentLogger } from '@concord/core';
import { gate, waitFor } from '@concord/bus/testing';
import { AssignerProtocol } from 'kafkajs';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { ConsumerPipeline } from '../src/consumer/pipeline.js';
import { assignPartitions } from '../src/kafka/assigner.js';
import { BatchIntake } from '../src/kafka/intake.js';
import { describe, expect, it } from 'vitest';
import { OffsetCommitter } from '../src/kafka/committer.js';
import { PartitionTracker } from '../src/kafka/partition-tracker.js';
import type { TrackedRecord } from '../src/kafka/partition-tracker.js';
import { realTimers } from '../src/timers.js';

const records = (tracker: PartitionTracker, offsets: readonly number[]): TrackedRecord[] =>
  offsets.map((offset) => {
    const record = { offset, settled: false };
    tracker.add(record);
    return record;
  });

describe('PartitionTracker', () => {
  it('commits only past the longest settled prefix', () => {
    const tracker = new PartitionTracker('t', 0);
    const [r10, r11, r12, r14] = records(tracker, [10, 11, 12, 14]) as [
      TrackedRecord,
      TrackedRecord,
      TrackedRecord,
      TrackedRecord,
    ];
    expect(tracker.uncommitted()).toBeUndefined();
    tracker.settle(r11);
    tracker.settle(r14);
    expect(tracker.uncommitted()).toBeUndefined(); // 10 is still open
    expect(tracker.firstOpen()).toBe(10);
    tracker.settle(r10);
    expect(tracker.uncommitted()).toBe(12); // 10 and 11 done; 12 open
    tracker.committed(12);
    expect(tracker.uncommitted()).toBeUndefined();
    tracker.settle(r12);
    expect(tracker.uncommitted()).toBe(15); // offsets may have gaps (compaction, control records)
    expect(tracker.pending).toBe(0);
  });

  it('stops offering commits once stale', () => {
    const tracker = new PartitionTracker('t', 0);
    const [r0] = records(tracker, [0]) as [TrackedRecord];
    tracker.settle(r0);
    tracker.markStale();
    expect(tracker.uncommitted()).toBeUndefined();
  });

  it('wakes a drain waiter once few enough records are pending, and resumes a paused partition on stale', async () => {
    const tracker = new PartitionTracker('t', 0);
    const all = records(tracker, [0, 1, 2, 3]);
    let drained = false;
    const waiting = tracker.drained(2, new AbortController().signal).then(() => {
      drained = true;
    });
    tracker.settle(all[0] as TrackedRecord);
    await Promise.resolve();
    expect(drained).toBe(false);
    tracker.settle(all[1] as TrackedRecord);
    await waiting;
    expect(drained).toBe(true);

    let resumed = false;
    tracker.paused(() => {
      resumed = true;
    });
    expect(tracker.isPaused).toBe(true);
    tracker.markStale();
    expect(resumed).toBe(true);
  });
});

describe('OffsetCommitter', () => {
  const fakeConsumer = (
    commits: { topic: string; partition: number; offset: string }[][],
    fail = { next: false },
  ) =>
    ({
      commitOffsets: (offsets: { topic: string; partition: number; offset: string }[]) => {
        if (fail.next) {
          fail.next = false;
          return Promise.reject(new Error('rebalancing'));
        }
        commits.push(offsets);
        return Promise.resolve();
      },
    }) as unknown as Consumer;

  it('commits every moved partition in one request and nothing twice', async () => {
    const a = new PartitionTracker('t', 0);
    const b = new PartitionTracker('t', 1);
    const [a0] = records(a, [0]) as [TrackedRecord];
    const [b5] = records(b, [5]) as [TrackedRecord];
    a.settle(a0);
    b.settle(b5);
    const commits: { topic: string; partition: number; offset: string }[][] = [];
    const committer = new OffsetCommitter({
      consumer: () => fakeConsumer(commits),
      trackers: () => [a, b],
      logger: silentLogger,
      timers: realTimers,
      intervalMs: 0,
      retryDelayMs: 10,
    });
    await committer.flush();
    await committer.flush();
    expect(commits).toEqual([
      [
        { topic: 't', partition: 0, offset: '1' },
        { topic: 't', partition: 1, offset: '6' },
      ],
    ]);
  });

  it('tries a failed commit again', async () => {
    const tracker = new PartitionTracker('t', 0);
    const [r0] = records(tracker, [0]) as [TrackedRecord];
    tracker.settle(r0);
    const commits: { topic: string; partition: number; offset: string }[][] = [];
    const consumer = fakeConsumer(commits, { next: true });
    const committer = new OffsetCommitter({
      consumer: () => consumer,
      trackers: () => [tracker],
      logger: silentLogger,
      timers: realTimers,
      intervalMs: 0,
      retryDelayMs: 10,
    });
    committer.request();
    const deadline = Date.now() + 2_000;
    while (commits.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    committer.stop();
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
  });
});

describe('BatchIntake', () => {
  it('leaves a batch fetched before a seek of its partition (stale) for kafkajs to fetch again', async () => {
    const submitted: string[] = [];
    const pipeline = {
      submit: (delivery: { message: { id: string } }) => submitted.push(delivery.message.id),
    } as unknown as ConsumerPipeline;
    const intake = new BatchIntake({
      pipeline,
      committer: {} as OffsetCommitter,
      maxPendingPerPartition: 100,
      stallMs: 10,
      timers: realTimers,
      closing: new AbortController().signal,
      seek: () => undefined,
      revokeTimeoutMs: 1_000,
    });
    intake.newGeneration();
    const take = (stale: boolean) => {
      let resolved: string | undefined;
      const payload = {
        batch: {
          topic: 't',
          partition: 0,
          messages: [3, 4].map((offset) => ({
            offset: String(offset),
            key: Buffer.from(`k${offset}`),
            value: Buffer.from('v'),
            headers: { 'message-id': `m${offset}` },
          })),
        },
        resolveOffset: (offset: string) => (resolved = offset),
        pause: () => () => undefined,
        heartbeat: () => Promise.resolve(),
        isStale: () => stale,
      } as unknown as EachBatchPayload;
      return intake.take(payload).then(() => resolved);
    };
    expect(await take(true)).toBeUndefined();
    expect(submitted).toEqual([]);
    expect([...intake.trackers()]).toEqual([]);
    expect(await take(false)).toBe('4');
    expect(submitted).toEqual(['m3', 'm4']);
  });
});

describe('BatchIntake across generations', () => {
  const batchOf = (offsets: readonly number[]): EachBatchPayload =>
    ({
      batch: {
        topic: 't',
        partition: 2,
        messages: offsets.map((offset) => ({
          offset: String(offset),
          key: Buffer.from('k'),
          value: Buffer.from('v'),
          headers: { 'message-id': `m${offset}` },
        })),
      },
      resolveOffset: () => undefined,
      pause: () => () => undefined,
      heartbeat: () => Promise.resolve(),
      isStale: () => false,
    }) as unknown as EachBatchPayload;

  it('counts the attempts of a record fetched again after a rebalance, and says which partitions are busy', async () => {
    const seen: number[] = [];
    const rebalance = { now: () => undefined as void };
    const pipeline = new ConsumerPipeline({
      group: 'g',
      logger: silentLogger,
      retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 1 },
      deadLetter: () => Promise.resolve(),
      handler: (m) => {
        seen.push(m.attempt);
        if (seen.length > 1) return Promise.resolve();
        // The first attempt fails while the group rebalances: the record goes back, and comes again.
        rebalance.now();
        return Promise.reject(new ConcordError('X_FLAKY', 'flaky', { retryable: true }));
      },
    });
    const committer = { request: () => undefined } as unknown as OffsetCommitter;
    const intake = new BatchIntake({
      pipeline,
      committer,
      maxPendingPerPartition: 100,
      stallMs: 10,
      timers: realTimers,
      closing: new AbortController().signal,
      seek: () => undefined,
      revokeTimeoutMs: 1_000,
    });
    rebalance.now = () => intake.newGeneration();
    intake.newGeneration();
    await intake.take(batchOf([7]));
    expect(intake.busy()).toEqual({ t: [2] });
    await waitFor('the first attempt to be given back', () => pipeline.pending === 0, 2_000);
    expect(intake.busy()).toEqual({});
    await intake.take(batchOf([7]));
    await waitFor('the second delivery', () => pipeline.pending === 0, 2_000);
    expect(seen).toEqual([1, 2]);
    expect(intake.busy()).toEqual({});
  });
});

describe('BatchIntake when the group rebalances', () => {
  it('waits for the running handlers, gives back what has not started, commits, then lets kafkajs rejoin', async () => {
    const events: string[] = [];
    const running = gate();
    const pipeline = new ConsumerPipeline({
      group: 'g',
      logger: silentLogger,
      deadLetter: () => Promise.resolve(),
      handler: async (m) => {
        events.push(`start ${m.id}`);
        if (m.id === 'm7') await running.opened;
        events.push(`end ${m.id}`);
      },
    });
    const committed: { partition: number; offset: string }[][] = [];
    const consumer = {
      commitOffsets: (offsets: { partition: number; offset: string }[]) => {
        committed.push(offsets.map(({ partition, offset }) => ({ partition, offset })));
        return Promise.resolve();
      },
    } as unknown as Consumer;
    const holder: { intake?: BatchIntake } = {};
    const committer = new OffsetCommitter({
      consumer: () => consumer,
      trackers: () => holder.intake?.trackers() ?? [],
      logger: silentLogger,
      timers: realTimers,
      intervalMs: 60_000,
      retryDelayMs: 1_000,
    });
    const intake = new BatchIntake({
      pipeline,
      committer,
      maxPendingPerPartition: 100,
      stallMs: 10,
      timers: realTimers,
      closing: new AbortController().signal,
      seek: () => undefined,
      revokeTimeoutMs: 5_000,
    });
    holder.intake = intake;
    intake.newGeneration();
    const rebalancing = Object.assign(new Error('The group is rebalancing'), {
      type: 'REBALANCE_IN_PROGRESS',
    });
    // m7 runs (and holds); m8 waits behind it on the same key.
    const taking = intake.take({
      batch: {
        topic: 't',
        partition: 0,
        messages: [7, 8].map((offset) => ({
          offset: String(offset),
          key: Buffer.from('k'),
          value: Buffer.from('v'),
          headers: { 'message-id': `m${offset}` },
        })),
      },
      resolveOffset: () => undefined,
      pause: () => () => undefined,
      heartbeat: () => Promise.reject(rebalancing),
      isStale: () => false,
    } as unknown as EachBatchPayload);
    let rejoined = false;
    const outcome = taking.then(
      () => 'resolved',
      (error: unknown) => {
        rejoined = true;
        return error;
      },
    );
    await waitFor('m7 to start', () => events.includes('start m7'), 2_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(rejoined).toBe(false);
    running.open();
    expect(await outcome).toBe(rebalancing);
    expect(events).toEqual(['start m7', 'end m7']);
    expect(committed).toEqual([[{ partition: 0, offset: '8' }]]);
    expect(intake.busy()).toEqual({});
  });
});

describe('busy-sticky assignment', () => {
  const assigned = (result: ReturnType<typeof assignPartitions>) =>
    Object.fromEntries(
      result.map(({ memberId, memberAssignment }) => [
        memberId,
        AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment,
      ]),
    );
  const partitions = [0, 1, 2, 3].map((partitionId) => ({ topic: 't', partitionId }));

  it('leaves a partition with the member still handling its records and spreads the rest', () => {
    const result = assignPartitions(
      [
        { memberId: 'a', topics: ['t'], busy: {} },
        { memberId: 'b', topics: ['t'], busy: { t: [1, 2, 3] } },
      ],
      partitions,
    );
    expect(assigned(result)).toEqual({ a: { t: [0] }, b: { t: [1, 2, 3] } });
  });

  it('spreads evenly when nobody is busy', () => {
    const result = assignPartitions(
      [
        { memberId: 'a', topics: ['t'], busy: {} },
        { memberId: 'b', topics: ['t'], busy: {} },
      ],
      partitions,
    );
    expect(assigned(result)).toEqual({ a: { t: [0, 2] }, b: { t: [1, 3] } });
  });
});
