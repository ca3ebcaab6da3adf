import { createLogger, exitOnStartupFailure } from '@concord/service-kit';
import { SERVICE, startAllInOne } from './app.js';
import { loadAllInOneConfig } from './config.js';

/** The all-in-one process: config from the environment, then {@link startAllInOne}. */
const main = async (): Promise<void> => {
  const config = loadAllInOneConfig(process.env);
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const running = await startAllInOne({ config, logger });
  logger.info(
    { url: running.url, broker: config.BROKER, embedded: config.DATABASE_URL === undefined },
    'Concord is running',
  );
};

main().catch(exitOnStartupFailure(SERVICE));
