import { readOnly, unsupportedCapability, unsupportedMode } from './errors.js';
import type { ProjectionContext, ProjectionRecord, ReadContext, TypeScope, UpsertResult } from './model.js';

/** What a backend can do. `upsert` and `rebuild` write; `read` serves `GET /v1/aggregates`. */
export type ProjectionMode = 'upsert' | 'rebuild' | 'read';

export const WRITE_MODES: ReadonlySet<ProjectionMode> = new Set(['upsert', 'rebuild']);

export interface BackendCapabilities {
  /** Aggregate types this backend projects, or `'*'` for every type. */
  readonly aggregateTypes: TypeScope;
  readonly modes: readonly ProjectionMode[];
  /** A read-only backend never receives writes, whatever modes it lists. */
  readonly readOnly: boolean;
  /** Readers are asked in ascending order (a cache before the primary store). Default 100. */
  readonly readOrder?: number;
  /**
   * Writes cannot join the consumer's Postgres transaction (a cache in another store). Such a backend
   * must never be ahead of a committed row: in the transaction its keys are only invalidated, and the
   * records are written once the transaction committed (see {@link ProjectionContext.afterCommit}).
   */
  readonly outsideTransaction?: boolean;
}

/** Receives the rebuilt states of one rebuild, in batches, inside the swap transaction. */
export interface RebuildWriter {
  write(records: readonly ProjectionRecord[]): Promise<void>;
  /** All records were written. */
  finish(): Promise<void>;
}

/**
 * A read model. Adding one is a matter of implementing this and handing it to the orchestrator: the
 * orchestrator dispatches by the declared capabilities and never names a backend.
 */
export interface ProjectionBackend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** Mode `upsert`: writes the record only when its version is newer than the stored one. */
  upsert?(ctx: ProjectionContext, record: ProjectionRecord): Promise<UpsertResult>;
  /**
   * Optional batch form of `upsert` (a consumer batch): one result per record, in order, as if each
   * were upserted in turn. Records may name one aggregate more than once.
   */
  upsertMany?(ctx: ProjectionContext, records: readonly ProjectionRecord[]): Promise<UpsertResult[]>;
  /**
   * For a backend `outsideTransaction`: drops what it holds of these aggregates, inside the
   * transaction that is about to write them, so a crash between the commit and the write after it
   * leaves a miss (which a read fills from the primary store) rather than an old record.
   */
  invalidate?(records: readonly Pick<ProjectionRecord, 'type' | 'id'>[]): Promise<void>;
  /** Mode `read`. */
  read?(ctx: ReadContext, type: string, id: string): Promise<ProjectionRecord | undefined>;
  /**
   * Mode `read`, for a read-through fill of the caches that missed: reads the record again inside the
   * fill's transaction and keeps every rebuild from swapping until that transaction ends, so a cache
   * can never be filled with a record that predates a rebuild's swap. `'rebuilding'` while a swap is
   * under way: the caller fills nothing (the swap rewrites the caches itself). A backend without it
   * is never a source of fills.
   */
  readForFill?(
    ctx: ProjectionContext,
    type: string,
    id: string,
  ): Promise<ProjectionRecord | 'rebuilding' | undefined>;
  /**
   * Mode `rebuild`: starts replacing everything in `scope` (already narrowed to this backend's types);
   * the backend blocks or tolerates concurrent live upserts so none is lost. Backends begin in
   * declaration order, the primary store first: it blocks live upserts and fills before the caches
   * after it drop what they hold.
   */
  beginRebuild?(ctx: ProjectionContext, scope: TypeScope): Promise<RebuildWriter>;
  /** Releases clients the backend owns. Idempotent. */
  close?(): Promise<void>;
}

/** Does the backend declare this aggregate type? */
export const supportsType = (backend: ProjectionBackend, type: string): boolean => {
  const types = backend.capabilities.aggregateTypes;
  return types === '*' || types.includes(type);
};

const implemented = (backend: ProjectionBackend, mode: ProjectionMode): boolean => {
  switch (mode) {
    case 'upsert':
      return backend.upsert !== undefined;
    case 'rebuild':
      return backend.beginRebuild !== undefined;
    case 'read':
      return backend.read !== undefined;
  }
};

/** Does the backend declare and implement the mode (and, for writes, accept writes)? */
export const supportsMode = (backend: ProjectionBackend, mode: ProjectionMode): boolean =>
  backend.capabilities.modes.includes(mode) &&
  implemented(backend, mode) &&
  !(WRITE_MODES.has(mode) && backend.capabilities.readOnly);

/** Throws the typed error that says why the backend cannot do `mode` for `type`. */
export const assertCapable = (backend: ProjectionBackend, type: string, mode: ProjectionMode): void => {
  if (type !== '*' && !supportsType(backend, type)) throw unsupportedCapability(backend.name, type);
  if (WRITE_MODES.has(mode) && backend.capabilities.readOnly) throw readOnly(backend.name);
  if (!backend.capabilities.modes.includes(mode) || !implemented(backend, mode)) {
    throw unsupportedMode(backend.name, mode);
  }
};

/** The part of `requested` a backend covers; undefined when nothing. */
export const narrowScope = (backend: ProjectionBackend, requested: TypeScope): TypeScope | undefined => {
  const own = backend.capabilities.aggregateTypes;
  if (requested === '*') return own;
  const covered = own === '*' ? requested : requested.filter((type) => own.includes(type));
  return covered.length === 0 ? undefined : covered;
};
