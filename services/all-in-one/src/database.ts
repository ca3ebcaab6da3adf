import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@concord/core';
import { pgliteDatabase } from '@concord/outbox';
import { openPostgres } from '@concord/service-kit';
import type { ProbedDatabase } from '@concord/service-kit';
import type { AllInOneConfig } from './config.js';

/** Postgres when `DATABASE_URL` is set, else embedded PGlite persisting in `CONCORD_DATA_DIR`. */
export const openDatabase = async (config: AllInOneConfig, logger: Logger): Promise<ProbedDatabase> => {
  if (config.DATABASE_URL !== undefined) {
    return openPostgres({ ...config, DATABASE_URL: config.DATABASE_URL }, { service: 'all-in-one', logger });
  }
  const dataDir = resolve(config.CONCORD_DATA_DIR, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  logger.info({ dataDir }, 'embedded database (PGlite)');
  const pglite = await PGlite.create(dataDir);
  const db = pgliteDatabase({ pglite, ownsInstance: true });
  return {
    db,
    check: { name: 'database', isReady: () => !pglite.closed },
    client: { name: 'database', close: () => db.close() },
  };
};
