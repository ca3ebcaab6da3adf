import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitOpenError, createCircuitBreakers } from '../src/delivery/breakers.js';
import type { CircuitStateName } from '../src/delivery/breakers.js';

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
});
