import { isConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { createBatcher } from '../src/batcher.js';
import type { CommitInfo } from '../src/batcher.js';

interface Job {
  readonly name: string;
  readonly size: number;
  readonly bytes?: number;
}

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

/** A batcher whose commits record their groups and can be held open or failed by the test. */
const harness = (
  options: { maxItems?: number; lingerMs?: number; maxInFlight?: number; maxBytes?: number } = {},
) => {
  const groups: string[][] = [];
  const gates: ReturnType<typeof deferred>[] = [];
  const commits: CommitInfo[] = [];
  let hold = false;
  let failWhen: (names: string[]) => boolean = () => false;
  const batcher = createBatcher<Job, string>({
    maxItems: options.maxItems ?? 100,
    lingerMs: options.lingerMs ?? 5,
    maxInFlight: options.maxInFlight ?? 1,
    size: (job) => job.size,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    bytes: (job) => job.bytes ?? 0,
    commit: async (jobs) => {
      const names = jobs.map((job) => job.name);
      groups.push(names);
      if (hold) {
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
      }
      if (failWhen(names)) throw new Error(`commit of ${names.join(',')} failed`);
      return names.map((name) => `ok:${name}`);
    },
    onCommit: (info) => commits.push(info),
  });
  return {
    batcher,
    groups,
    gates,
    commits,
    holdCommits: (value: boolean) => {
      hold = value;
    },
    failWhen: (predicate: (names: string[]) => boolean) => {
      failWhen = predicate;
    },
  };
};

const job = (name: string, size = 1): Job => ({ name, size });

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
};

describe('group-commit batcher', () => {
  it('lets concurrent jobs share one commit and gives each its own result', async () => {
    const h = harness();
    const results = await Promise.all(['a', 'b', 'c'].map((name) => h.batcher.submit(job(name, 2))));
    expect(results).toEqual(['ok:a', 'ok:b', 'ok:c']);
    expect(h.groups).toEqual([['a', 'b', 'c']]);
    expect(h.commits[0]).toMatchObject({ jobs: 3, items: 6 });
  });

  it('caps a commit at maxItems without splitting a job, and commits an oversized job alone', async () => {
    const h = harness({ maxItems: 10, maxInFlight: 4 });
    const results = await Promise.all([
      h.batcher.submit(job('a', 4)),
      h.batcher.submit(job('b', 4)),
      h.batcher.submit(job('c', 4)),
      h.batcher.submit(job('huge', 25)),
      h.batcher.submit(job('d', 1)),
    ]);
    expect(results).toEqual(['ok:a', 'ok:b', 'ok:c', 'ok:huge', 'ok:d']);
    expect(h.groups).toEqual([['a', 'b'], ['c'], ['huge'], ['d']]);
  });

  it('caps a commit at maxBytes without splitting a job, and commits an oversized job alone', async () => {
    const h = harness({ maxItems: 100, maxBytes: 4096, maxInFlight: 4 });
    const sized = (name: string, bytes: number): Job => ({ name, size: 1, bytes });
    const results = await Promise.all([
      h.batcher.submit(sized('a', 2048)),
      h.batcher.submit(sized('b', 2048)),
      h.batcher.submit(sized('c', 1)),
      h.batcher.submit(sized('huge', 10_000)),
      h.batcher.submit(sized('d', 4096)),
    ]);
    expect(results).toEqual(['ok:a', 'ok:b', 'ok:c', 'ok:huge', 'ok:d']);
    expect(h.groups).toEqual([['a', 'b'], ['c'], ['huge'], ['d']]);
  });

  it('commits at once when maxBytes are queued, without waiting for the linger', async () => {
    const h = harness({ maxBytes: 1000, lingerMs: 60_000 });
    const started = Date.now();
    await h.batcher.submit({ name: 'a', size: 1, bytes: 1000 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('commits at once when maxItems are queued, without waiting for the linger', async () => {
    const h = harness({ maxItems: 4, lingerMs: 60_000 });
    const started = Date.now();
    await Promise.all([h.batcher.submit(job('a', 2)), h.batcher.submit(job('b', 2))]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(h.groups).toEqual([['a', 'b']]);
  });

  it('queues jobs behind a commit in flight and commits them together when it finishes', async () => {
    const h = harness({ maxInFlight: 1, lingerMs: 0 });
    h.holdCommits(true);
    const first = h.batcher.submit(job('a'));
    await until(() => h.groups.length === 1);
    const later = ['b', 'c', 'd'].map((name) => h.batcher.submit(job(name)));
    expect(h.batcher.queued).toBe(3);
    h.holdCommits(false);
    h.gates[0]?.resolve();
    expect(await first).toBe('ok:a');
    expect(await Promise.all(later)).toEqual(['ok:b', 'ok:c', 'ok:d']);
    expect(h.groups).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('runs up to maxInFlight commits at once', async () => {
    const h = harness({ maxInFlight: 2, maxItems: 1, lingerMs: 0 });
    h.holdCommits(true);
    const pending = ['a', 'b', 'c'].map((name) => h.batcher.submit(job(name)));
    await until(() => h.groups.length === 2);
    expect(h.batcher.queued).toBe(1);
    h.holdCommits(false);
    for (const gate of h.gates) gate.resolve();
    expect(await Promise.all(pending)).toEqual(['ok:a', 'ok:b', 'ok:c']);
  });

  it('fails only the jobs of the commit that failed', async () => {
    const h = harness({ maxItems: 2, maxInFlight: 4 });
    h.failWhen((names) => names.includes('bad'));
    const settled = await Promise.allSettled(
      ['a', 'bad', 'c', 'd'].map((name) => h.batcher.submit(job(name))),
    );
    expect(h.groups).toEqual([
      ['a', 'bad'],
      ['c', 'd'],
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect(h.commits.filter((c) => c.error !== undefined)).toHaveLength(1);
  });

  it('close() commits what is queued, waits for commits in flight, then refuses new jobs retryably', async () => {
    const h = harness({ lingerMs: 60_000 });
    const queued = [h.batcher.submit(job('a')), h.batcher.submit(job('b'))];
    await h.batcher.close();
    expect(await Promise.all(queued)).toEqual(['ok:a', 'ok:b']);
    const refused = await h.batcher.submit(job('late')).catch((error: unknown) => error);
    expect(isConcordError(refused) && refused.code === 'CONCORD_INGEST_CLOSED' && refused.retryable).toBe(
      true,
    );
    await h.batcher.close();
  });
});
