import { fileURLToPath } from 'node:url';
import type { MigrationSource } from '@concord/outbox';

/** The resolver's tables: conflicts and the resolution ledger (`migrations/`, shipped beside dist). */
export const resolverMigrations: MigrationSource = {
  owner: 'resolver',
  dir: fileURLToPath(new URL('../migrations/', import.meta.url)),
};
