import { expect, it } from 'vitest';
import type { IncomingMessage } from '../port.js';
import type { ContractRun } from './context.js';
import { collector, delay, message, publishAll, readText, waitFor } from './helpers.js';

/** Round trip, headers, fan-out to groups, work sharing, per-key order. */
export const deliveryContract = (run: ContractRun): void => {
  const { features } = run.options;

  it('delivers a published batch to a subscriber', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('roundtrip');
    const sink = collector();
    await bus.subscribe({ group: run.group('g'), topics: [topic], handler: sink.handler });
    await bus.publish(topic, [
      message('m-1', 'k-a', 'one'),
      message('m-2', 'k-b', 'two'),
      message('m-3', 'k-a', 'three'),
    ]);
    await waitFor('three messages', () => sink.received.length >= 3, run.deliveryTimeoutMs);
    const byId = new Map(sink.received.map((m) => [m.id, m]));
    expect([...byId.keys()].sort()).toEqual(['m-1', 'm-2', 'm-3']);
    expect(byId.get('m-1')).toMatchObject({ topic, key: 'k-a', attempt: 1 });
    expect(readText(byId.get('m-2')?.payload ?? new Uint8Array())).toBe('two');
    expect(sink.received.filter((m) => m.key === 'k-a').map((m) => m.id)).toEqual(['m-1', 'm-3']);
  });

  it(
    'keeps headers, including the trace context and message-id',
    { timeout: run.testTimeoutMs },
    async () => {
      const bus = await run.bus();
      const topic = run.topic('headers');
      const sink = collector();
      await bus.subscribe({ group: run.group('g'), topics: [topic], handler: sink.handler });
      const headers = {
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'concord=1',
        'correlation-id': 'corr-1',
        'causation-id': 'cause-1',
        'x-custom': 'ünïcode ✓',
      };
      await bus.publish(topic, [message('h-1', 'k', 'body', headers)]);
      await waitFor('the message', () => sink.received.length >= 1, run.deliveryTimeoutMs);
      expect(sink.received[0]?.headers).toMatchObject({ ...headers, 'message-id': 'h-1' });
    },
  );

  it('keeps messages for a group while it has no member', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('offline');
    const group = run.group('g');
    const first = await bus.subscribe({ group, topics: [topic], handler: collector().handler });
    await first.close(); // the group exists now; its member went away (a restarting service)
    const ids = Array.from({ length: 30 }, (_, i) => `o-${i}`);
    await publishAll(
      bus,
      topic,
      ids.map((id, i) => message(id, `k-${i % 3}`)),
      10,
    );
    const sink = collector();
    await bus.subscribe({ group, topics: [topic], handler: sink.handler });
    await waitFor(
      'the messages published while away',
      () => sink.received.length >= ids.length,
      run.deliveryTimeoutMs,
    );
    expect(sink.ids()).toEqual(expect.arrayContaining(ids));
    for (const key of ['k-0', 'k-1', 'k-2']) {
      const order = sink.received.filter((m) => m.key === key).map((m) => Number(m.id.slice(2)));
      expect(order, key).toEqual([...order].sort((a, b) => a - b));
    }
  });

  it('gives every consumer group every message', { timeout: run.testTimeoutMs }, async () => {
    const bus = await run.bus();
    const topic = run.topic('fanout');
    const first = collector();
    const second = collector();
    await bus.subscribe({ group: run.group('one'), topics: [topic], handler: first.handler });
    await bus.subscribe({ group: run.group('two'), topics: [topic], handler: second.handler });
    const ids = Array.from({ length: 20 }, (_, i) => `f-${i}`);
    await publishAll(
      bus,
      topic,
      ids.map((id, i) => message(id, `k-${i % 5}`)),
    );
    await waitFor(
      'both groups',
      () => first.received.length >= 20 && second.received.length >= 20,
      run.deliveryTimeoutMs,
    );
    expect(new Set(first.ids())).toEqual(new Set(ids));
    expect(new Set(second.ids())).toEqual(new Set(ids));
  });

  if (features.consumerGroups) {
    it('shares the work among the members of one group', { timeout: run.testTimeoutMs }, async () => {
      const [publisher, memberA, memberB] = [await run.bus(), await run.bus(), await run.bus()];
      const topic = run.topic('share');
      const group = run.group('g');
      const a = collector();
      const b = collector();
      await memberA.subscribe({ group, topics: [topic], handler: a.handler });
      await memberB.subscribe({ group, topics: [topic], handler: b.handler });
      const all = () => [...a.ids(), ...b.ids()];
      // A member may take its share a moment after it joined (RabbitMQ's shards are handed over at the
      // members' next balancing pass): publish in rounds until both have had work, for a while at most.
      const ids: string[] = [];
      const until = Date.now() + run.deliveryTimeoutMs;
      for (
        let round = 0;
        ids.length === 0 || a.received.length === 0 || b.received.length === 0;
        round += 1
      ) {
        if (Date.now() > until) break;
        if (round > 0) await delay(200);
        const batch = Array.from({ length: 60 }, (_, i) => `s-${round}-${i}`);
        ids.push(...batch);
        await publishAll(
          publisher,
          topic,
          batch.map((id) => message(id, `key-${id}`)),
          10,
        );
        await waitFor('all messages', () => new Set(all()).size >= ids.length, run.deliveryTimeoutMs);
      }
      expect(new Set(all())).toEqual(new Set(ids));
      expect(all()).toHaveLength(ids.length); // each handled once
      expect(a.received.length).toBeGreaterThan(0);
      expect(b.received.length).toBeGreaterThan(0);
    });
  }

  if (features.orderedPerKey) {
    it('keeps per-key order while handling keys concurrently', { timeout: run.testTimeoutMs }, async () => {
      const bus = await run.bus();
      const topic = run.topic('order');
      const keys = Array.from({ length: 6 }, (_, i) => `key-${i}`);
      const perKey = 30;
      const seen = new Map<string, number[]>(keys.map((k) => [k, []]));
      const active = new Set<string>();
      let overlapping = 0;
      let concurrent = 0;
      let maxConcurrent = 0;
      const handler = async (m: IncomingMessage): Promise<void> => {
        if (active.has(m.key)) overlapping += 1;
        active.add(m.key);
        concurrent += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await delay(Math.floor(Math.random() * 4));
        seen.get(m.key)?.push(Number(readText(m.payload)));
        concurrent -= 1;
        active.delete(m.key);
      };
      await bus.subscribe({ group: run.group('g'), topics: [topic], handler, concurrency: 8 });
      const messages = Array.from({ length: perKey }, (_, n) =>
        keys.map((key) => message(`${key}-${n}`, key, String(n))),
      ).flat();
      await publishAll(bus, topic, messages, 12);
      const total = () => [...seen.values()].reduce((sum, list) => sum + list.length, 0);
      await waitFor('every message', () => total() >= messages.length, run.deliveryTimeoutMs);
      const expected = Array.from({ length: perKey }, (_, n) => n);
      for (const key of keys) expect(seen.get(key), key).toEqual(expected);
      expect(overlapping).toBe(0);
      expect(maxConcurrent).toBeGreaterThan(1);
    });
  }
};
