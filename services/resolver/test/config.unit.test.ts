import { describe, expect, it } from 'vitest';
import { loadResolverConfig } from '../src/config.js';

const base = {
  DATABASE_URL: 'postgres://localhost/concord',
  BROKER: 'kafka',
  KAFKA_BROKERS: 'localhost:9092',
};

describe('resolver config', () => {
  it('keeps inbox ids 7 days by default and refuses a window under a minute', () => {
    const defaults = loadResolverConfig(base);
    expect(defaults.INBOX_RETENTION_MS).toBe(7 * 86_400_000);
    expect(defaults.RETENTION_INTERVAL_MS).toBe(60_000);
    expect(loadResolverConfig({ ...base, INBOX_RETENTION_MS: '3600000' }).INBOX_RETENTION_MS).toBe(3_600_000);
    expect(loadResolverConfig({ ...base, INBOX_RETENTION_MS: '60000' }).INBOX_RETENTION_MS).toBe(60_000);
    expect(() => loadResolverConfig({ ...base, INBOX_RETENTION_MS: '59000' })).toThrow(/INBOX_RETENTION_MS/);
    expect(defaults.OUTBOX_RETENTION_MS).toBe(86_400_000);
    expect(loadResolverConfig({ ...base, OUTBOX_RETENTION_MS: '60000' }).OUTBOX_RETENTION_MS).toBe(60_000);
    expect(() => loadResolverConfig({ ...base, OUTBOX_RETENTION_MS: '59000' })).toThrow(
      /OUTBOX_RETENTION_MS/,
    );
    expect(() => loadResolverConfig({ ...base, RETENTION_INTERVAL_MS: '-1' })).toThrow(
      /RETENTION_INTERVAL_MS/,
    );
  });
});
