import type { ProjectionBackend, ProjectionMode } from './backend.js';
import { assertCapable, narrowScope, supportsMode, supportsType } from './backend.js';
import { unsupportedCapability, unsupportedMode } from './errors.js';
import type { ProjectionContext, ProjectionRecord, ReadContext, TypeScope, UpsertResult } from './model.js';

/** What one backend did with one record. */
export interface BackendOutcome {
  readonly backend: string;
  readonly result: UpsertResult;
}

/** What a read found, and which earlier (cache) backends missed and can be filled. */
export interface ReadHit {
  readonly record: ProjectionRecord;
  readonly backend: string;
  readonly missed: readonly ProjectionBackend[];
}

export interface RebuildTarget {
  readonly backend: ProjectionBackend;
  readonly scope: TypeScope;
}

/**
 * Dispatches each aggregate type to every backend that declares it. The orchestrator knows backends
 * only through their declared capabilities: adding a backend or an aggregate type never changes it.
 */
export interface ProjectionOrchestrator {
  readonly backends: readonly ProjectionBackend[];
  /** Backends that declare `type` and `mode` (writes: only writable ones). */
  backendsFor(type: string, mode: ProjectionMode): ProjectionBackend[];
  /** Upserts into every backend that projects the type; none → CONCORD_PROJECTION_UNSUPPORTED_CAPABILITY. */
  project(ctx: ProjectionContext, record: ProjectionRecord): Promise<BackendOutcome[]>;
  /**
   * `project` for a batch in one transaction: every backend receives its records at once (its
   * `upsertMany`, or `upsert` in turn); one list of outcomes per record, in order. With
   * `ctx.afterCommit`, a backend `outsideTransaction` is written after the commit, and only with the
   * records a transactional backend moved forward (reported `applied` for it; the others `stale`).
   */
  projectMany(ctx: ProjectionContext, records: readonly ProjectionRecord[]): Promise<BackendOutcome[][]>;
  /** Upserts into one named backend, with typed errors when it cannot. */
  projectTo(backend: string, ctx: ProjectionContext, record: ProjectionRecord): Promise<UpsertResult>;
  /** Asks readers of the type in their read order; the first hit wins. */
  read(ctx: ReadContext, type: string, id: string): Promise<ReadHit | undefined>;
  /**
   * Read-through: fills the caches `hit` missed, in `ctx.tx`, with the record as the backend that
   * answered reads it again there (`readForFill`), never with `hit.record` itself: that may predate
   * a rebuild that swapped since, and the rebuilt record at the same version would then lose to it.
   * Fills nothing while that backend swaps a rebuild, or when it cannot read for a fill.
   * Returns the caches written.
   */
  fill(ctx: ProjectionContext, hit: ReadHit): Promise<number>;
  /** Backends a rebuild of `scope` writes, each with the part of the scope it covers. */
  rebuildTargets(scope: TypeScope): RebuildTarget[];
  /** The named backend, or CONCORD_PROJECTION_UNSUPPORTED_CAPABILITY. */
  backend(name: string): ProjectionBackend;
}

export const createOrchestrator = (backends: readonly ProjectionBackend[]): ProjectionOrchestrator => {
  const names = new Set<string>();
  for (const backend of backends) {
    if (names.has(backend.name)) throw new Error(`Two projection backends are named ${backend.name}`);
    names.add(backend.name);
  }
  const readers = [...backends].sort(
    (a, b) => (a.capabilities.readOrder ?? 100) - (b.capabilities.readOrder ?? 100),
  );
  const backendsFor = (type: string, mode: ProjectionMode) =>
    backends.filter((backend) => supportsType(backend, type) && supportsMode(backend, mode));
  const byName = (name: string): ProjectionBackend => {
    const found = backends.find((backend) => backend.name === name);
    if (found === undefined) throw unsupportedCapability(name, '*');
    return found;
  };

  return {
    backends,
    backendsFor,
    backend: byName,
    async project(ctx, record) {
      const targets = backendsFor(record.type, 'upsert');
      if (targets.length === 0) throw unsupportedCapability(undefined, record.type);
      const outcomes: BackendOutcome[] = [];
      // In declaration order: the transactional store first, caches after it, so a failing cache
      // write rolls the whole projection back and the redelivery finds the store not yet written.
      for (const backend of targets) {
        outcomes.push({ backend: backend.name, result: await upsertOf(backend)(ctx, record) });
      }
      return outcomes;
    },
    async projectMany(ctx, records) {
      const outcomes: BackendOutcome[][] = records.map((record) => {
        if (backendsFor(record.type, 'upsert').length === 0)
          throw unsupportedCapability(undefined, record.type);
        return [];
      });
      const { afterCommit } = ctx;
      const later: { backend: ProjectionBackend; indexes: number[] }[] = [];
      // Backend by backend in declaration order, as `project` does record by record; backends outside
      // the transaction after the others, once they know what the transaction moves forward.
      for (const backend of backends) {
        if (!supportsMode(backend, 'upsert')) continue;
        const indexes = records.flatMap((record, i) => (supportsType(backend, record.type) ? [i] : []));
        if (indexes.length === 0) continue;
        if (backend.capabilities.outsideTransaction === true && afterCommit !== undefined) {
          later.push({ backend, indexes });
          continue;
        }
        const results = await upsertAll(backend, ctx, pick(records, indexes));
        indexes.forEach((i, j) =>
          outcomes[i]?.push({ backend: backend.name, result: results[j] as UpsertResult }),
        );
      }
      for (const { backend, indexes } of later) {
        // A record no transactional backend projects has no committed row to be ahead of: written now.
        const alone = indexes.filter((i) => outcomes[i]?.length === 0);
        const moved = indexes.filter((i) => outcomes[i]?.some((o) => o.result === 'applied') === true);
        const unmoved = indexes.filter((i) => !alone.includes(i) && !moved.includes(i));
        const results = await upsertAll(backend, ctx, pick(records, alone));
        alone.forEach((i, j) =>
          outcomes[i]?.push({ backend: backend.name, result: results[j] as UpsertResult }),
        );
        // What the transaction moves forward is written once it committed; its keys are dropped now,
        // so a crash in between leaves a miss that a read fills from the committed row.
        const deferred = pick(records, moved);
        if (deferred.length > 0) {
          await backend.invalidate?.(deferred);
          afterCommit?.(async () => {
            await upsertAll(backend, ctx, deferred);
          });
        }
        for (const i of moved) outcomes[i]?.push({ backend: backend.name, result: 'applied' });
        for (const i of unmoved) outcomes[i]?.push({ backend: backend.name, result: 'stale' });
      }
      return outcomes;
    },
    async projectTo(name, ctx, record) {
      const backend = byName(name);
      assertCapable(backend, record.type, 'upsert');
      return upsertOf(backend)(ctx, record);
    },
    async read(ctx, type, id) {
      const missed: ProjectionBackend[] = [];
      for (const backend of readers) {
        const read = backend.read?.bind(backend);
        if (read === undefined || !supportsType(backend, type) || !supportsMode(backend, 'read')) continue;
        const record = await read(ctx, type, id);
        if (record !== undefined) return { record, backend: backend.name, missed };
        if (supportsMode(backend, 'upsert')) missed.push(backend);
      }
      return undefined;
    },
    async fill(ctx, hit) {
      if (hit.missed.length === 0) return 0;
      const source = byName(hit.backend);
      const record = await source.readForFill?.(ctx, hit.record.type, hit.record.id);
      if (record === undefined || record === 'rebuilding') return 0;
      let written = 0;
      for (const backend of hit.missed) {
        if ((await upsertOf(backend)(ctx, record)) === 'applied') written += 1;
      }
      return written;
    },
    rebuildTargets(scope) {
      const targets = backends.flatMap((backend) => {
        if (!supportsMode(backend, 'rebuild')) return [];
        const covered = narrowScope(backend, scope);
        return covered === undefined ? [] : [{ backend, scope: covered }];
      });
      if (scope !== '*') {
        for (const type of scope) {
          if (!targets.some((t) => t.scope === '*' || t.scope.includes(type))) {
            throw unsupportedCapability(undefined, type);
          }
        }
      }
      return targets;
    },
  };
};

const pick = (records: readonly ProjectionRecord[], indexes: readonly number[]): ProjectionRecord[] =>
  indexes.map((i) => records[i] as ProjectionRecord);

/** The backend's results for `records`, in order: its `upsertMany`, or `upsert` in turn. */
const upsertAll = async (
  backend: ProjectionBackend,
  ctx: ProjectionContext,
  records: readonly ProjectionRecord[],
): Promise<UpsertResult[]> => {
  if (records.length === 0) return [];
  const upsertMany = backend.upsertMany?.bind(backend);
  const results: UpsertResult[] = [];
  if (upsertMany !== undefined) results.push(...(await upsertMany(ctx, records)));
  else for (const record of records) results.push(await upsertOf(backend)(ctx, record));
  if (results.length < records.length) throw new Error(`${backend.name} returned too few upsert results`);
  return results;
};

/** The backend's upsert; callers checked the mode first. */
const upsertOf = (backend: ProjectionBackend) => {
  const upsert = backend.upsert?.bind(backend);
  if (upsert === undefined) throw unsupportedMode(backend.name, 'upsert');
  return upsert;
};
