import { fileURLToPath } from 'node:url';
import type { MigrationSource } from '@concord/outbox';

/** The notifier's tables: subscriptions, the notification log and webhook deliveries (`migrations/`, shipped beside dist). */
export const notifierMigrations: MigrationSource = {
  owner: 'notifier',
  dir: fileURLToPath(new URL('../migrations/', import.meta.url)),
};
