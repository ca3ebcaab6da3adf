import { expect, it } from 'vitest';
import type { ContractRun } from './context.js';
import { delay, message, waitFor } from './helpers.js';

/** Durability: a broker restart mid-stream loses no message whose publish resolved. */
export const restartContract = (run: ContractRun, restartBroker: () => Promise<void>): void => {
  it(
    'loses no confirmed message when the broker restarts mid-stream',
    { timeout: Math.max(run.testTimeoutMs, 240_000) },
    async () => {
      const bus = await run.bus();
      const topic = run.topic('restart');
      const received = new Set<string>();
      await bus.subscribe({
        group: run.group('g'),
        topics: [topic],
        handler: (m) => {
          received.add(m.id);
          return Promise.resolve();
        },
      });
      const confirmed: string[] = [];
      const failures: unknown[] = [];
      let stop = false;
      let batch = 0;
      const publishing = (async () => {
        while (!stop) {
          const ids = Array.from({ length: 5 }, (_, i) => `b${batch}-${i}`);
          batch += 1;
          try {
            await bus.publish(
              topic,
              ids.map((id, i) => message(id, `k-${i}`)),
            );
            confirmed.push(...ids);
          } catch (error) {
            failures.push(error);
            await delay(100);
          }
          await delay(5);
        }
      })();
      await waitFor('some confirmed messages', () => confirmed.length >= 50, run.deliveryTimeoutMs);
      await restartBroker();
      const afterRestart = confirmed.length;
      await waitFor('publishing to resume', () => confirmed.length >= afterRestart + 50, 120_000);
      stop = true;
      await publishing;
      for (const failure of failures) expect(failure).toMatchObject({ retryable: true });
      await waitFor('every confirmed message', () => confirmed.every((id) => received.has(id)), 120_000);
      expect(bus.isReady()).toBe(true);
    },
  );
};
