import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@concord/core';
import type { RunningService } from '@concord/service-kit';
import { startAllInOne } from '../../src/app.js';
import { loadAllInOneConfig } from '../../src/config.js';
import type { AllInOneConfig } from '../../src/config.js';

/** An all-in-one process of a test, with its own data directory; `stop()` shuts it and removes the data. */
export interface TestAllInOne {
  readonly running: RunningService;
  readonly url: string;
  readonly config: AllInOneConfig;
  stop(): Promise<void>;
}

/**
 * The all-in-one as `pnpm start` runs it (embedded PGlite, in-memory bus), on a free loopback port,
 * with `policy` (YAML) as its policy and `env` as further settings.
 */
export const startTestAllInOne = async (options: {
  readonly label: string;
  readonly policy: string;
  readonly env?: Readonly<Record<string, string>>;
}): Promise<TestAllInOne> => {
  const dir = await mkdtemp(join(tmpdir(), `concord-aio-${options.label}-`));
  const policy = join(dir, 'policy.yaml');
  await writeFile(policy, options.policy);
  const config = loadAllInOneConfig({
    CONCORD_DATA_DIR: dir,
    CONCORD_POLICY: policy,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const running = await startAllInOne({
    config: { ...config, PORT: 0, HOST: '127.0.0.1' },
    logger: silentLogger,
    handleSignals: false,
    exit: () => undefined,
  });
  return {
    running,
    url: running.url,
    config,
    stop: async () => {
      await running.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
};
