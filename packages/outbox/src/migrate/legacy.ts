import { ConcordError } from '@concord/core';
import type { Tx } from '../db/types.js';
import { outboxErrors } from '../errors.js';

/**
 * Schemas migrated before the tables were split by owner hold one chain, `<schema>.schema_migrations`
 * (version, name, checksum), written by the runner of that time; its files are kept as a test fixture
 * (test/fixtures/legacy-migrations). Each owner's baseline (version 0001) is that chain's end state for
 * its tables (test/migrate-legacy.int.test.ts compares the catalogs), so on a schema where the whole
 * chain ran, a baseline is recorded as applied without running it ("adopted"); the functions are then
 * applied as usual, which drops the overload the chain left behind.
 */
const CHAIN = [
  '0001_outbox',
  '0002_event_store',
  '0003_resolver',
  '0004_projector',
  '0005_notifier',
  '0006_outbox_relay_read',
  '0007_notifier_delivery_trace',
  '0008_outbox_relay_mark',
  '0009_store_prepare_batch',
  '0010_outbox_watermarks',
  '0011_outbox_relay_read_unblocked',
  '0012_outbox_mark_cached_plan',
  '0013_outbox_read_waiting',
  '0014_projection_checkpoint_slots',
  '0015_outbox_mark_retried',
  '0016_retention',
  '0017_conflicts_by_time',
];

/** The owners whose tables the chain created. */
const OWNERS = new Set(['outbox', 'store', 'resolver', 'projector', 'notifier']);

/** `none`: no chain in the schema; `complete`: every file of it ran; otherwise the files that did not. */
export type LegacyChain = 'none' | 'complete' | { readonly missing: readonly string[] };

export const readLegacyChain = async (tx: Tx, schema: string, quoted: string): Promise<LegacyChain> => {
  const { rows: found } = await tx.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM information_schema.tables
       WHERE table_schema = $1 AND table_name = 'schema_migrations') AS present`,
    [schema],
  );
  if (found[0]?.present !== true) return 'none';
  const { rows } = await tx.query<{ id: string }>(
    `SELECT version || '_' || name AS id FROM ${quoted}.schema_migrations`,
  );
  const ran = new Set(rows.map((row) => row.id));
  const missing = CHAIN.filter((id) => !ran.has(id));
  return missing.length === 0 ? 'complete' : { missing };
};

/**
 * Whether `owner`'s migration `version`, not yet recorded, is to be adopted from the chain rather than
 * run. Throws when the chain is there but did not run to its end: the baseline would collide with the
 * tables it created, and the files that would finish it are no longer shipped.
 */
export const adoptsFromLegacy = (legacy: LegacyChain, owner: string, version: string): boolean => {
  if (legacy === 'none' || version !== '0001' || !OWNERS.has(owner)) return false;
  if (legacy === 'complete') return true;
  throw new ConcordError(
    outboxErrors.MIGRATION_FAILED,
    `The schema holds the migrations of before the split by owner up to some point only (missing ${legacy.missing.join(', ')}); ` +
      `finish them with a Concord of that time, or recreate the schema`,
  );
};
