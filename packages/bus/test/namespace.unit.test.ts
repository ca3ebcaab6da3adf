import { DLQ_HEADERS, createMemoryBus, namespacedBus } from '@concord/bus';
import type { IncomingMessage } from '@concord/bus';
import { describe, expect, it } from 'vitest';

const payload = new TextEncoder().encode('{}');

describe('namespacedBus', () => {
  it('isolates prefixed deployments on one broker and hides the prefix from handlers', async () => {
    const bus = createMemoryBus();
    const a = namespacedBus(bus, 'a.');
    const seen: IncomingMessage[] = [];
    const plain: IncomingMessage[] = [];
    await a.subscribe({ group: 'g', topics: ['t.x'], handler: (m) => Promise.resolve(void seen.push(m)) });
    await bus.subscribe({ group: 'g', topics: ['t.x'], handler: (m) => Promise.resolve(void plain.push(m)) });
    await a.publish('t.x', [{ id: 'm1', key: 'k', payload }]);
    await bus.publish('t.x', [{ id: 'm2', key: 'k', payload }]);
    await expect.poll(() => seen.length + plain.length).toBe(2);
    expect(seen.map((m) => [m.id, m.topic])).toEqual([['m1', 't.x']]);
    expect(plain.map((m) => m.id)).toEqual(['m2']);
    expect(namespacedBus(bus, '')).toBe(bus);
    await bus.close();
  });

  it('declares prefixed topics and groups', async () => {
    const bus = createMemoryBus();
    await namespacedBus(bus, 'a.').declare([{ topic: 't.x', groups: ['g'] }]);
    await expect(bus.publish('t.x', [{ id: 'm0', key: 'k', payload }])).rejects.toMatchObject({
      code: 'CONCORD_BUS_UNROUTABLE',
    });
    await bus.publish('a.t.x', [{ id: 'm1', key: 'k', payload }]);
    const seen: IncomingMessage[] = [];
    await bus.subscribe({
      group: 'a.g',
      topics: ['a.t.x'],
      handler: (m) => Promise.resolve(void seen.push(m)),
    });
    await expect.poll(() => seen.map((m) => m.id)).toEqual(['m1']);
    await bus.close();
  });

  it("shows a dead letter's original topic and group without the prefix", async () => {
    const bus = createMemoryBus();
    const a = namespacedBus(bus, 'a.');
    await a.declare([{ topic: 't.x', groups: ['g'] }]);
    await a.subscribe({
      group: 'g',
      topics: ['t.x'],
      handler: () => Promise.reject(new Error('no')),
      retry: { maxAttempts: 1 },
    });
    const dead: IncomingMessage[] = [];
    await a.subscribe({
      group: 'g',
      topics: ['t.x.dlq'],
      handler: (m) => Promise.resolve(void dead.push(m)),
    });
    await a.publish('t.x', [{ id: 'm1', key: 'k', payload }]);
    await expect.poll(() => dead.length).toBe(1);
    expect(dead[0]?.topic).toBe('t.x.dlq');
    expect(dead[0]?.headers[DLQ_HEADERS.originalTopic]).toBe('t.x');
    expect(dead[0]?.headers[DLQ_HEADERS.group]).toBe('g');
    await bus.close();
  });
});
