import { createWakeableLoop } from '@concord/bus';
import type { Pause, Timers } from '@concord/bus';
import { describe, expect, it } from 'vitest';

/** Timers that fire only when the test says so; `sleeps` lists the delays asked for, pending ones first to fire. */
const manualTimers = () => {
  const pending = new Map<number, { readonly ms: number; readonly callback: () => void }>();
  let next = 0;
  const timers: Timers = {
    setTimeout: (callback, ms) => {
      next += 1;
      pending.set(next, { ms, callback });
      return next;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  return {
    timers,
    /** Delays of the timers now pending. */
    sleeps: () => [...pending.values()].map((timer) => timer.ms),
    /** Fires every pending timer. */
    fire: () => {
      const due = [...pending.values()];
      pending.clear();
      for (const timer of due) timer.callback();
    },
  };
};

/** Lets the loop run until it waits on a timer (or a step). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('createWakeableLoop', () => {
  it('runs again at once while the step reports more, then sleeps the poll interval until woken', async () => {
    const clock = manualTimers();
    const answers = [true, true, false, false];
    let passes = 0;
    const loop = createWakeableLoop({
      step: () => Promise.resolve(answers[passes++] ?? false),
      pollIntervalMs: 1_000,
      onError: () => undefined,
      timers: clock.timers,
    });
    loop.start();
    await settle();
    expect(passes).toBe(3);
    expect(clock.sleeps()).toEqual([1_000]);
    loop.wake();
    await settle();
    expect(passes).toBe(4);
    expect(clock.sleeps()).toEqual([1_000]);
    clock.fire();
    await settle();
    expect(passes).toBe(5);
    await loop.close();
  });

  it('a wake during a pass ends the sleep after it at once', async () => {
    const clock = manualTimers();
    let passes = 0;
    let loop: ReturnType<typeof createWakeableLoop> | undefined = undefined;
    loop = createWakeableLoop({
      step: () => {
        passes += 1;
        if (passes === 1) loop?.wake();
        return Promise.resolve(false);
      },
      pollIntervalMs: 1_000,
      onError: () => undefined,
      timers: clock.timers,
    });
    loop.start();
    await settle();
    expect(passes).toBe(2);
    expect(clock.sleeps()).toEqual([1_000]);
    await loop.close();
  });

  it('takes the pause a step asks for; a pause that is not wakeable ends on its timer or on close only', async () => {
    const clock = manualTimers();
    const pauses: Pause[] = [{ ms: 70 }, { ms: 500, wakeable: false }];
    let passes = 0;
    const loop = createWakeableLoop({
      step: () => Promise.resolve(pauses[passes++] ?? { ms: 9_000, wakeable: false }),
      pollIntervalMs: 1_000,
      onError: () => undefined,
      timers: clock.timers,
    });
    loop.start();
    await settle();
    expect(clock.sleeps()).toEqual([70]);
    loop.wake();
    await settle();
    expect(passes).toBe(2);
    expect(clock.sleeps()).toEqual([500]);
    loop.wake();
    await settle();
    expect(passes).toBe(2);
    clock.fire();
    await settle();
    expect(passes).toBe(3);
    expect(clock.sleeps()).toEqual([9_000]);
    await loop.close();
    expect(clock.sleeps()).toEqual([]);
  });

  it('backs off after failing passes, telling onError each time, and starts over after a pass succeeds', async () => {
    const clock = manualTimers();
    const told: [unknown, number, number][] = [];
    const failing = [true, true, true, false, true];
    let passes = 0;
    const loop = createWakeableLoop({
      step: () =>
        failing[passes++] === true ? Promise.reject(new Error(`pass ${passes}`)) : Promise.resolve(false),
      pollIntervalMs: 1_000,
      onError: (error, failures, retryInMs) => told.push([(error as Error).message, failures, retryInMs]),
      backoff: { initialMs: 100, maxMs: 300, jitter: 'equal' },
      random: () => 1,
      wakeDuringBackoff: false,
      timers: clock.timers,
    });
    loop.start();
    for (const expected of [100, 200, 300]) {
      await settle();
      expect(clock.sleeps()).toEqual([expected]);
      loop.wake();
      await settle();
      expect(clock.sleeps()).toEqual([expected]);
      clock.fire();
    }
    await settle();
    expect(clock.sleeps()).toEqual([1_000]);
    clock.fire();
    await settle();
    expect(told).toEqual([
      ['pass 1', 1, 100],
      ['pass 2', 2, 200],
      ['pass 3', 3, 300],
      ['pass 5', 1, 100],
    ]);
    await loop.close();
  });

  it('by default backs off doubling from 100 ms without jitter, cut short by a wake', async () => {
    const clock = manualTimers();
    let passes = 0;
    const loop = createWakeableLoop({
      step: () => {
        passes += 1;
        return Promise.reject(new Error('down'));
      },
      pollIntervalMs: 1_000,
      onError: () => undefined,
      random: () => 0,
      timers: clock.timers,
    });
    loop.start();
    await settle();
    expect(clock.sleeps()).toEqual([100]);
    clock.fire();
    await settle();
    expect(clock.sleeps()).toEqual([200]);
    loop.wake();
    await settle();
    expect(passes).toBe(3);
    expect(clock.sleeps()).toEqual([400]);
    await loop.close();
  });

  it('close ends the sleep, waits for the running pass and stops; start after close does nothing', async () => {
    const clock = manualTimers();
    let passes = 0;
    let release: (() => void) | undefined;
    const loop = createWakeableLoop({
      step: async () => {
        passes += 1;
        if (passes === 2) await new Promise<void>((resolve) => (release = resolve));
        return false;
      },
      pollIntervalMs: 1_000,
      onError: () => undefined,
      timers: clock.timers,
    });
    loop.start();
    await settle();
    loop.wake();
    await settle();
    let closed = false;
    const closing = loop.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    release?.();
    await closing;
    expect(passes).toBe(2);
    expect(clock.sleeps()).toEqual([]);
    loop.start();
    await settle();
    expect(passes).toBe(2);
  });
});
