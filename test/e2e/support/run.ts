import { afterAll, beforeAll, describe, test } from 'vitest';
import { Scenario } from './scenario.js';
import type { Stack } from './stack.js';

/** The scenario's phases in order, each a test named for what it checks. */
const PHASES: ReadonlyArray<readonly [string, (scenario: Scenario) => Promise<void>]> = [
  ['subscribers connect (a webhook for everything, a stream)', (s) => s.subscribe()],
  ["every aggregate's first version is applied in one batch", (s) => s.firstVersions()],
  ['sequential changes get the outcomes the policy implies', (s) => s.sequentialChanges()],
  ['three waves of concurrent writers, with consumers crashed mid-stream', (s) => s.concurrentWaves()],
  ['a manual review waits, then is decided over HTTP', (s) => s.manualReview()],
  ['a decision is reopened into review as a new version, then decided again', (s) => s.reopenDecision()],
  ['every event reaches exactly one final outcome', (s) => s.finalOutcomes()],
  ['a second policy dry-runs over the recorded conflicts, writing nothing', (s) => s.dryRunPolicy()],
  ['duplicates answer the original outcome and change nothing', (s) => s.duplicates()],
  ['the pull feed, folded in commit order, equals every projection', (s) => s.feedEqualsProjections()],
  ['the stream carries exactly the implied notifications, also on replay', (s) => s.streamNotifications()],
  ['webhooks deliver exactly the implied notifications, signed', (s) => s.webhookDeliveries()],
];

/**
 * The scenario on one stack as a sequence of named tests, so a failure names its phase. A phase after
 * a failed one fails at once, naming the phase it depended on; the stack is shut down at the end
 * (SIGTERM, clean exits required), after the scenario's failure is reported, not instead of it.
 */
export function describeScenario(name: string, start: () => Promise<Stack>): void {
  describe.sequential(name, () => {
    let stack: Stack | undefined;
    let scenario: Scenario | undefined;
    let failed: string | undefined;
    const began = Date.now();

    beforeAll(async () => {
      stack = await start();
      scenario = new Scenario(stack);
    });

    afterAll(async () => {
      await scenario?.close();
      if (stack === undefined) return;
      await stack.close();
      const report = { ...scenario?.report, durationMs: Date.now() - began };
      console.info(`e2e ${stack.mode}: ${JSON.stringify(report)}`);
    }, 120_000);

    for (const [phase, run] of PHASES) {
      test(phase, async () => {
        if (failed !== undefined) throw new Error(`not run: the phase "${failed}" failed`);
        if (scenario === undefined) throw new Error('the stack did not start');
        try {
          await run(scenario);
        } catch (error) {
          failed = phase;
          throw error;
        }
      });
    }
  });
}
