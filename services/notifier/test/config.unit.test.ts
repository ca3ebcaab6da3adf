import { isConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { loadNotifierConfig } from '../src/config.js';

const base = {
  DATABASE_URL: 'postgres://localhost/concord',
  BROKER: 'rabbitmq',
  AMQP_URL: 'amqp://localhost',
  REDIS_URL: 'redis://localhost:6379',
};

describe('notifier config', () => {
  it('applies defaults and freezes the result', () => {
    const config = loadNotifierConfig(base);
    expect(config.NOTIFIER_ALLOW_PRIVATE_URLS).toBe(false);
    expect(config.NOTIFIER_QUEUE_NAME).toBe('concord-webhooks');
    expect(config.NOTIFIER_QUEUE_PREFIX).toBe('concord');
    expect(config.NOTIFIER_MAX_ATTEMPTS).toBe(8);
    expect(config.NOTIFIER_DELIVERY_CONCURRENCY).toBe(64);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the stream caps, stall deadline and replay page', () => {
    const defaults = loadNotifierConfig(base);
    expect([
      defaults.NOTIFIER_STREAM_MAX,
      defaults.NOTIFIER_STREAM_MAX_PER_CLIENT,
      defaults.NOTIFIER_STREAM_STALL_MS,
      defaults.NOTIFIER_STREAM_PAGE_SIZE,
    ]).toEqual([1_000, 16, 30_000, 100]);
    const set = loadNotifierConfig({
      ...base,
      NOTIFIER_STREAM_MAX: '50',
      NOTIFIER_STREAM_MAX_PER_CLIENT: '2',
      NOTIFIER_STREAM_STALL_MS: '5000',
      NOTIFIER_STREAM_PAGE_SIZE: '20',
    });
    expect([
      set.NOTIFIER_STREAM_MAX,
      set.NOTIFIER_STREAM_MAX_PER_CLIENT,
      set.NOTIFIER_STREAM_STALL_MS,
      set.NOTIFIER_STREAM_PAGE_SIZE,
    ]).toEqual([50, 2, 5_000, 20]);
    expect(() => loadNotifierConfig({ ...base, NOTIFIER_STREAM_MAX: '0' })).toThrow(/NOTIFIER_STREAM_MAX/);
  });

  it('parses NOTIFIER_ALLOW_PRIVATE_URLS strictly', () => {
    expect(
      loadNotifierConfig({ ...base, NOTIFIER_ALLOW_PRIVATE_URLS: 'true' }).NOTIFIER_ALLOW_PRIVATE_URLS,
    ).toBe(true);
    expect(() => loadNotifierConfig({ ...base, NOTIFIER_ALLOW_PRIVATE_URLS: '1' })).toThrow(
      /NOTIFIER_ALLOW_PRIVATE_URLS/,
    );
    expect(() => loadNotifierConfig({ ...base, NOTIFIER_ALLOW_PRIVATE_URLS: 'yes' })).toThrow(
      /NOTIFIER_ALLOW_PRIVATE_URLS/,
    );
  });

  it('reads the retention of the log and of finished deliveries, and refuses a log window under a minute', () => {
    const defaults = loadNotifierConfig(base);
    expect(defaults.NOTIFIER_LOG_RETENTION_MS).toBe(7 * 86_400_000);
    expect(defaults.NOTIFIER_DELIVERY_RETENTION_MS).toBe(86_400_000);
    expect(defaults.RETENTION_INTERVAL_MS).toBe(60_000);
    const set = loadNotifierConfig({
      ...base,
      NOTIFIER_LOG_RETENTION_MS: '7200000',
      NOTIFIER_DELIVERY_RETENTION_MS: '600000',
      RETENTION_INTERVAL_MS: '5000',
    });
    expect([
      set.NOTIFIER_LOG_RETENTION_MS,
      set.NOTIFIER_DELIVERY_RETENTION_MS,
      set.RETENTION_INTERVAL_MS,
    ]).toEqual([7_200_000, 600_000, 5_000]);
    expect(
      loadNotifierConfig({ ...base, NOTIFIER_LOG_RETENTION_MS: '60000' }).NOTIFIER_LOG_RETENTION_MS,
    ).toBe(60_000);
    expect(() => loadNotifierConfig({ ...base, NOTIFIER_LOG_RETENTION_MS: '59999' })).toThrow(
      /NOTIFIER_LOG_RETENTION_MS/,
    );
    expect(() => loadNotifierConfig({ ...base, RETENTION_INTERVAL_MS: 'often' })).toThrow(
      /RETENTION_INTERVAL_MS/,
    );
  });

  it('reports every problem at once', () => {
    try {
      loadNotifierConfig({
        BROKER: 'kafka',
        REDIS_URL: 'http://nope',
        NOTIFIER_MAX_ATTEMPTS: '0',
        NOTIFIER_BACKOFF_INITIAL_MS: 'soon',
      });
      expect.unreachable();
    } catch (error) {
      expect(isConcordError(error) && error.code).toBe('CONCORD_CONFIG_INVALID');
      const message = (error as Error).message;
      for (const variable of [
        'DATABASE_URL',
        'REDIS_URL',
        'NOTIFIER_MAX_ATTEMPTS',
        'NOTIFIER_BACKOFF_INITIAL_MS',
      ]) {
        expect(message).toContain(variable);
      }
    }
  });
});
