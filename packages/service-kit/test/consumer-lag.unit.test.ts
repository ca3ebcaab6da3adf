import type { ConsumerLagProbe } from '@concord/bus';
import { silentLogger } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { consumersIn, createConsumerLagModule, createMetrics } from '../src/index.js';
import { scrape } from './support/scrape.js';

const lagSeries = async (metrics: ReturnType<typeof createMetrics>) =>
  (await scrape(metrics.registry)).samples.filter((s) => s.name === 'concord_consumer_lag');

describe('consumer lag module', () => {
  it('shows the last sample, removes the series while the broker cannot be asked, closes its probe', async () => {
    let answer: () => number = () => 3;
    let closed = 0;
    const probe: ConsumerLagProbe = {
      lag: () =>
        Promise.resolve([{ group: 'projector', topic: 'concord.events.applied', messages: answer() }]),
      close: () => {
        closed += 1;
        return Promise.resolve();
      },
    };
    const metrics = createMetrics('lag-unit');
    // A long interval: the test samples by hand.
    const module = createConsumerLagModule({ probe, metrics, logger: silentLogger, intervalMs: 3_600_000 });
    await module.sample();
    expect(await lagSeries(metrics)).toEqual([
      {
        name: 'concord_consumer_lag',
        labels: { group: 'projector', topic: 'concord.events.applied', service: 'lag-unit' },
        value: 3,
      },
    ]);
    answer = () => {
      throw new Error('broker unreachable');
    };
    await module.sample();
    expect(await lagSeries(metrics)).toEqual([]);
    answer = () => 0;
    await module.sample();
    expect((await lagSeries(metrics)).map((s) => s.value)).toEqual([0]);
    await module.close();
    await module.close();
    expect(closed).toBe(1);
  });

  it('samples nothing without a probe (the in-memory bus)', async () => {
    const metrics = createMetrics('lag-unit');
    const module = createConsumerLagModule({ probe: undefined, metrics, logger: silentLogger });
    await module.start();
    await module.sample();
    await module.close();
    expect(await lagSeries(metrics)).toEqual([]);
  });

  it('asks about the groups of the topology, one group or all', () => {
    const topology = [
      { topic: 'a', groups: ['x', 'y'] },
      { topic: 'b', groups: ['y'] },
    ];
    expect(consumersIn(topology, 'y')).toEqual([
      { group: 'y', topic: 'a' },
      { group: 'y', topic: 'b' },
    ]);
    expect(consumersIn(topology).map((c) => `${c.group}/${c.topic}`)).toEqual(['x/a', 'y/a', 'y/b']);
  });
});
