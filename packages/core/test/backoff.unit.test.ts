import { describe, expect, it } from 'vitest';
import { backoffDelay } from '@concord/core';
import type { Backoff } from '@concord/core';

const steps = (backoff: Backoff, random: number) =>
  [1, 2, 3, 4, 5, 6].map((failures) => backoffDelay(failures, backoff, () => random));

describe('backoffDelay', () => {
  it('doubles the step per failure from initialMs and caps it at maxMs', () => {
    expect(steps({ initialMs: 100, maxMs: 1_000, jitter: 'none' }, 0.3)).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('full jitter picks in [0, step)', () => {
    const backoff: Backoff = { initialMs: 100, maxMs: 1_000, jitter: 'full' };
    expect(steps(backoff, 0)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(steps(backoff, 0.999)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, backoff, () => 0.5)).toBe(200);
  });

  it('equal jitter keeps half the step and picks the other half', () => {
    const backoff: Backoff = { initialMs: 100, maxMs: 1_000, jitter: 'equal' };
    expect(steps(backoff, 0)).toEqual([50, 100, 200, 400, 500, 500]);
    expect(steps(backoff, 1)).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelay(2, backoff, () => 0.5)).toBe(150);
  });

  it('treats a failure count below one as the first', () => {
    expect(backoffDelay(0, { initialMs: 200, maxMs: 30_000, jitter: 'none' }, Math.random)).toBe(200);
  });
});
