import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@concord/core';
import { pgliteDatabase } from '@concord/outbox';
import { openPostgres } from '@concord/service-kit';
import type { ProbedDatabase } from '@concord/service-kit';
import type { AllInOneConfig } from './config.js';

/** Postgres type oid of `bytea`. */
const BYTEA = 17;

/**
 * `bytea` in Postgres's hex text form, converted in one native call each way. PGlite's own converters go
 * through a JavaScript array of one string per byte: an outbox batch's 4 MB of payloads took ~220 MB of
 * heap to send and as much again to read back.
 */
const byteaConverters = {
  serializers: {
    [BYTEA]: (bytes: Uint8Array): string =>
      `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`,
  },
  parsers: { [BYTEA]: (text: string): Uint8Array => Buffer.from(text.slice(2), 'hex') },
};

/** Postgres when `DATABASE_URL` is set, else embedded PGlite persisting in `CONCORD_DATA_DIR`. */
export const openDatabase = async (config: AllInOneConfig, logger: Logger): Promise<ProbedDatabase> => {
  if (config.DATABASE_URL !== undefined) {
    return openPostgres({ ...config, DATABASE_URL: config.DATABASE_URL }, { service: 'all-in-one', logger });
  }
  const dataDir = resolve(config.CONCORD_DATA_DIR, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  logger.info({ dataDir }, 'embedded database (PGlite)');
  const pglite = await PGlite.create(dataDir, byteaConverters);
  const db = pgliteDatabase({ pglite, ownsInstance: true });
  return {
    db,
    check: { name: 'database', isReady: () => !pglite.closed },
    client: { name: 'database', close: () => db.close() },
  };
};
