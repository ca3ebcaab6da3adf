import { createMemoryBus } from '@concord/bus';
import type { MessageBus, TopicDeclaration } from '@concord/bus';
import { ConcordError, silentLogger } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { declareWithin } from '../src/infrastructure.js';

const topology: TopicDeclaration[] = [{ topic: 't', groups: ['g'] }];

/** A memory bus whose first `failures` declarations fail with `error`. */
const failingAtFirst = (failures: number, error: Error) => {
  const bus = createMemoryBus();
  let calls = 0;
  const wrapped: MessageBus = {
    name: bus.name,
    features: bus.features,
    publish: (topic, messages) => bus.publish(topic, messages),
    subscribe: (options) => bus.subscribe(options),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
    declare: (declared) => {
      calls += 1;
      return calls <= failures ? Promise.reject(error) : bus.declare(declared);
    },
  };
  return { bus: wrapped, calls: () => calls };
};

const unavailable = new ConcordError('CONCORD_BUS_UNAVAILABLE', 'broker starting', { retryable: true });

describe('declaring a service topology at start', () => {
  it('tries again while the broker answers retryably, then declares', async () => {
    const { bus, calls } = failingAtFirst(2, unavailable);
    await declareWithin(bus, { topology, timeoutMs: 10_000, logger: silentLogger });
    expect(calls()).toBe(3);
    await bus.publish('t', [{ id: 'm', key: 'k', payload: new Uint8Array(1) }]); // the group exists
    await bus.close();
  });

  it('gives up at the deadline, and at once on an error retrying cannot help', async () => {
    const slow = failingAtFirst(100, unavailable);
    await expect(declareWithin(slow.bus, { topology, timeoutMs: 300, logger: silentLogger })).rejects.toBe(
      unavailable,
    );
    expect(slow.calls()).toBeLessThan(4);
    const invalid = new ConcordError('CONCORD_BUS_INVALID_GROUP', 'bad group', { retryable: false });
    const fatal = failingAtFirst(100, invalid);
    await expect(
      declareWithin(fatal.bus, { topology, timeoutMs: 10_000, logger: silentLogger }),
    ).rejects.toBe(invalid);
    expect(fatal.calls()).toBe(1);
  });
});
