import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitOpenError, createCircuitBreakers } from '../src/delivery/breakers.js';
import type { CircuitStateName } from '../src/delivery/breakers.js';
import { createNotifierMetrics } from '../src/metrics.js';

describe('per-endpoint circuit breakers', () => {
  let changes: [string, CircuitStateName][];
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
    changes = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const breakers = () =>
    createCircuitBreakers({
      failureThreshold: 3,
      halfOpenAfterMs: 1_000,
      onStateChange: (endpoint, state) => changes.push([endpoint, state]),
    });

  const fail = () => Promise.reject(new Error('500'));
  const ok = () => Promise.resolve('ok');

  it('opens after consecutive failures and then rejects without calling, saying how long is left', async () => {
    const circuits = breakers();
    const calls = vi.fn(fail);
    for (let i = 0; i < 3; i += 1)
      await expect(circuits.execute('https://a/hook', calls)).rejects.toThrow('500');
    expect(circuits.state('https://a/hook')).toBe('open');
    vi.advanceTimersByTime(400);
    const error = await circuits.execute('https://a/hook', calls).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryInMs).toBe(600);
    expect(calls).toHaveBeenCalledTimes(3);
  });

  it('a success resets the consecutive count', async () => {
    const circuits = breakers();
    await expect(circuits.execute('e', fail)).rejects.toThrow();
    await expect(circuits.execute('e', fail)).rejects.toThrow();
    await circuits.execute('e', ok);
    await expect(circuits.execute('e', fail)).rejects.toThrow();
    await expect(circuits.execute('e', fail)).rejects.toThrow();
    expect(circuits.state('e')).toBe('closed');
  });

  it('half-opens after the delay: a successful trial closes, a failed one re-opens', async () => {
    const circuits = breakers();
    for (let i = 0; i < 3; i += 1) await expect(circuits.execute('e', fail)).rejects.toThrow();
    vi.advanceTimersByTime(1_000);
    await expect(circuits.execute('e', fail)).rejects.toThrow('500');
    expect(circuits.state('e')).toBe('open');
    await expect(circuits.execute('e', ok)).rejects.toBeInstanceOf(CircuitOpenError);
    vi.advanceTimersByTime(1_000);
    await expect(circuits.execute('e', ok)).resolves.toBe('ok');
    expect(circuits.state('e')).toBe('closed');
    expect(changes.map(([, state]) => state)).toEqual([
      'closed',
      'open',
      'half_open',
      'open',
      'half_open',
      'closed',
    ]);
  });

  it('keeps endpoints apart', async () => {
    const circuits = breakers();
    for (let i = 0; i < 3; i += 1)
      await expect(circuits.execute('https://down/hook', fail)).rejects.toThrow();
    await expect(circuits.execute('https://up/hook', ok)).resolves.toBe('ok');
    expect(circuits.state('https://down/hook')).toBe('open');
    expect(circuits.state('https://up/hook')).toBe('closed');
  });

  it('counts endpoints per state, and the metric has one series per state however many endpoints', async () => {
    const circuits = createCircuitBreakers({ failureThreshold: 1, halfOpenAfterMs: 1_000, maxEndpoints: 50 });
    const registry = new Registry();
    const notifier = createNotifierMetrics(registry);
    notifier.observeCircuits(() => circuits.counts());
    for (let i = 0; i < 60; i += 1) {
      const endpoint = `https://hooks.example/${i}`;
      if (i % 3 === 0) await expect(circuits.execute(endpoint, fail)).rejects.toThrow();
      else await circuits.execute(endpoint, ok);
    }
    // 50 endpoints kept (the least recently used dropped): 16 of the last 50 failed.
    expect(circuits.counts()).toEqual({ closed: 34, open: 16, half_open: 0, isolated: 0 });
    const series = (await registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('concord_notifier_circuits'));
    expect(series).toEqual([
      'concord_notifier_circuits{state="closed"} 34',
      'concord_notifier_circuits{state="open"} 16',
      'concord_notifier_circuits{state="half_open"} 0',
      'concord_notifier_circuits{state="isolated"} 0',
    ]);
  });
});
