import { runScenario } from './scenario.js';
import type { ScenarioReport } from './scenario.js';
import type { Stack } from './stack.js';

/**
 * Runs the scenario on a started stack and shuts the stack down (SIGTERM, clean exits required). A
 * scenario failure is reported as such, not hidden by a failure to shut down afterwards.
 */
export async function runOn(start: () => Promise<Stack>): Promise<ScenarioReport & { durationMs: number }> {
  const began = Date.now();
  const stack = await start();
  let report: ScenarioReport;
  try {
    report = await runScenario(stack);
  } catch (error) {
    await stack.close().catch(() => undefined);
    throw error;
  }
  await stack.close();
  const durationMs = Date.now() - began;
  console.info(`e2e ${stack.mode}: ${JSON.stringify({ ...report, durationMs })}`);
  return { ...report, durationMs };
}
