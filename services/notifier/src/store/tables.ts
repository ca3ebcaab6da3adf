import { ConcordError } from '@concord/core';
import { serviceKitErrors } from '@concord/service-kit';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema-qualified names of the notifier's tables (migrations/0001_baseline.sql). */
export interface Tables {
  readonly schema: string;
  readonly subscriptions: string;
  readonly log: string;
  /** How far the log has been pruned (one row). */
  readonly logPruned: string;
  readonly deliveries: string;
  readonly deadLetters: string;
  /** The NOTIFY channel the log's insert trigger signals on. */
  readonly channel: string;
}

export const tablesFor = (schema: string): Tables => {
  if (!IDENT.test(schema)) {
    throw new ConcordError(
      serviceKitErrors.CONFIG_INVALID,
      `schema ${JSON.stringify(schema)} must match ${IDENT.source}`,
    );
  }
  const q = `"${schema}"`;
  return {
    schema,
    subscriptions: `${q}.notifier_subscriptions`,
    log: `${q}.notifier_log`,
    logPruned: `${q}.notifier_log_pruned`,
    deliveries: `${q}.notifier_deliveries`,
    deadLetters: `${q}.notifier_dead_letters`,
    channel: `${schema}_notifier`,
  };
};
