import { createBus, createMemoryBus } from '@concord/bus';
import { BROKER_NAMES, parseBrokerName } from '../src/brokers.js';
import { BusRegistry } from '../src/registry.js';
import { TOPIC_PATTERN } from '../src/validation.js';
import { describe, expect, it } from 'vitest';

describe('bus registry', () => {
  it('knows the shipped adapters and creates one from configuration', async () => {
    expect([...BROKER_NAMES].sort()).toEqual(['kafka', 'memory', 'rabbitmq']);
    const bus = await createBus({ broker: 'memory' });
    expect(bus.name).toBe('memory');
    await bus.close();
  });

  it('rejects an unknown BROKER with a typed error', () => {
    expect(() => parseBrokerName('nats')).toThrow(
      expect.objectContaining({ code: 'CONCORD_BUS_UNKNOWN_BROKER' }),
    );
    expect(() => parseBrokerName(undefined)).toThrow(/expected one of memory, rabbitmq, kafka/);
    expect(parseBrokerName(' RabbitMQ ')).toBe('rabbitmq');
  });

  it('lets callers register their own factories', async () => {
    const registry = new BusRegistry().register('custom', (options: { label: string }) => {
      expect(options.label).toBe('x');
      return createMemoryBus();
    });
    expect(registry.has('custom')).toBe(true);
    await expect(registry.create('custom', { label: 'x' })).resolves.toMatchObject({ name: 'memory' });
    await expect(new BusRegistry().create('nope' as never, {} as never)).rejects.toMatchObject({
      code: 'CONCORD_BUS_UNKNOWN_BROKER',
    });
  });
});

describe('topic names', () => {
  it('accept lower-case dotted names up to 200 characters', () => {
    for (const ok of ['concord.events.submit', 'a', 'x'.repeat(200), 'a_b-c.9'])
      expect(TOPIC_PATTERN.test(ok)).toBe(true);
    for (const bad of ['', 'A', '-a', 'a b', 'a/b', 'a*', 'x'.repeat(201)])
      expect(TOPIC_PATTERN.test(bad)).toBe(false);
  });
});
