import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger, exitOnStartupFailure } from '@concord/service-kit';
import { SERVICE, startAllInOne } from './app.js';
import { loadAllInOneConfig } from './config.js';

/** The repository's example task app (README "The first five minutes"); absent from a deployed package. */
const EXAMPLES = fileURLToPath(new URL('../../../examples/tasks/', import.meta.url));

/** The all-in-one process: config from the environment, then {@link startAllInOne}. */
const main = async (): Promise<void> => {
  const config = loadAllInOneConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const examples = existsSync(`${EXAMPLES}index.html`);
  const running = await startAllInOne({
    config,
    logger,
    ...(examples ? { examplesDir: EXAMPLES } : {}),
  });
  logger.info(
    {
      url: running.url,
      broker: config.BROKER,
      embedded: config.DATABASE_URL === undefined,
      console: `${running.url}/console/`,
      ...(examples ? { example: `${running.url}/examples/tasks/` } : {}),
    },
    'Concord is running',
  );
};

main().catch(exitOnStartupFailure(SERVICE));
