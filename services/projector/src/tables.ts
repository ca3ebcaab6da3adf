import { DEFAULT_SCHEMA } from '@concord/outbox';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Qualified names of the projector's tables (services/projector/migrations). */
export const projectionTables = (schema: string = DEFAULT_SCHEMA) => {
  if (!IDENT.test(schema))
    throw new Error(`Schema name ${JSON.stringify(schema)} must match ${IDENT.source}`);
  const t = (name: string) => `"${schema}".${name}`;
  return {
    projections: t('projections'),
    checkpoints: t('projection_checkpoints'),
    checkpointSlots: t('projection_checkpoint_slots'),
    rebuilds: t('projection_rebuilds'),
    rebuildRows: t('projection_rebuild_rows'),
  };
};

export type ProjectionTables = ReturnType<typeof projectionTables>;
