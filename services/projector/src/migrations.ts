import { fileURLToPath } from 'node:url';
import type { MigrationSource } from '@concord/outbox';

/** The projector's tables: the read model, checkpoints and rebuilds (`migrations/`, shipped beside dist). */
export const projectorMigrations: MigrationSource = {
  owner: 'projector',
  dir: fileURLToPath(new URL('../migrations/', import.meta.url)),
};
