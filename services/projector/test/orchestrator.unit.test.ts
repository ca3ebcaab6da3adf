import { describe, expect, it } from 'vitest';
import type { ProjectionBackend, ProjectionMode } from '../src/backend.js';
import { projectorErrors } from '../src/errors.js';
import type { ProjectionContext, ProjectionRecord, TypeScope, UpsertResult } from '../src/model.js';
import { createOrchestrator } from '../src/orchestrator.js';

const ctx = { tx: {} } as unknown as ProjectionContext;

const record = (type: string, id = 'a-1', version = 1): ProjectionRecord => ({
  type,
  id,
  version,
  fields: { title: `v${version}` },
  fieldVersions: {},
  updatedAt: '2025-01-01T00:00:00.000Z',
});

/** An in-memory backend that keeps the newest version per aggregate and records what it was sent. */
const fakeBackend = (
  name: string,
  aggregateTypes: TypeScope,
  options: { modes?: ProjectionMode[]; readOnly?: boolean; readOrder?: number } = {},
) => {
  const rows = new Map<string, ProjectionRecord>();
  const upserts: string[] = [];
  const backend: ProjectionBackend & { rows: typeof rows; upserts: typeof upserts } = {
    name,
    rows,
    upserts,
    capabilities: {
      aggregateTypes,
      modes: options.modes ?? ['upsert', 'rebuild', 'read'],
      readOnly: options.readOnly ?? false,
      ...(options.readOrder === undefined ? {} : { readOrder: options.readOrder }),
    },
    upsert(_ctx, r): Promise<UpsertResult> {
      upserts.push(`${r.type}/${r.id}@${r.version}`);
      const key = `${r.type}/${r.id}`;
      if ((rows.get(key)?.version ?? 0) >= r.version) return Promise.resolve('stale');
      rows.set(key, r);
      return Promise.resolve('applied');
    },
    read: (_ctx, type, id) => Promise.resolve(rows.get(`${type}/${id}`)),
    beginRebuild: () => Promise.resolve({ write: () => Promise.resolve(), finish: () => Promise.resolve() }),
  };
  return backend;
};

const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> => {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};
const codeOfSync = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('projection orchestrator', () => {
  it('dispatches each aggregate type to every writable backend that declares it', async () => {
    const all = fakeBackend('all', '*');
    const tasks = fakeBackend('tasks', ['task']);
    const archive = fakeBackend('archive', ['note'], { readOnly: true });
    const reader = fakeBackend('reader', ['task'], { modes: ['read'] });
    const orchestrator = createOrchestrator([all, tasks, archive, reader]);

    expect(await orchestrator.project(ctx, record('task'))).toEqual([
      { backend: 'all', result: 'applied' },
      { backend: 'tasks', result: 'applied' },
    ]);
    expect(await orchestrator.project(ctx, record('note'))).toEqual([{ backend: 'all', result: 'applied' }]);
    expect(archive.upserts).toEqual([]);
    expect(reader.upserts).toEqual([]);
    expect(orchestrator.backendsFor('task', 'read').map((b) => b.name)).toEqual(['all', 'tasks', 'reader']);
  });

  it('writes a backend outside the transaction after the commit, and only what the transaction moved', async () => {
    const store = fakeBackend('store', '*');
    const cache = fakeBackend('cache', ['task']);
    const invalidated: string[] = [];
    const outside: ProjectionBackend = {
      ...cache,
      capabilities: { ...cache.capabilities, outsideTransaction: true },
      invalidate: (records) => {
        invalidated.push(...records.map((r) => `${r.type}/${r.id}`));
        return Promise.resolve();
      },
    };
    const orchestrator = createOrchestrator([store, outside]);
    await orchestrator.project(ctx, record('task', 'old', 5));
    const afterCommit: (() => Promise<void>)[] = [];
    const outcomes = await orchestrator.projectMany(
      { ...ctx, afterCommit: (write) => afterCommit.push(write) },
      [record('task', 'new', 1), record('task', 'old', 4), record('note', 'n', 1)],
    );
    expect(outcomes).toEqual([
      [
        { backend: 'store', result: 'applied' },
        { backend: 'cache', result: 'applied' },
      ],
      [
        { backend: 'store', result: 'stale' },
        { backend: 'cache', result: 'stale' },
      ],
      [{ backend: 'store', result: 'applied' }],
    ]);
    // Inside the transaction the cache only drops what it will get; the write waits for the commit.
    expect(invalidated).toEqual(['task/new']);
    expect(cache.upserts).toEqual(['task/old@5']);
    for (const write of afterCommit) await write();
    expect(cache.upserts).toEqual(['task/old@5', 'task/new@1']);
  });

  it('a new backend or aggregate type needs no change: capabilities alone decide', async () => {
    const orchestrator = createOrchestrator([fakeBackend('orders', ['order', 'invoice'])]);
    expect(await orchestrator.project(ctx, record('invoice'))).toEqual([
      { backend: 'orders', result: 'applied' },
    ]);
  });

  it('passes version-guard results through: an older or equal version is stale', async () => {
    const orchestrator = createOrchestrator([fakeBackend('all', '*')]);
    await orchestrator.project(ctx, record('task', 'a', 3));
    expect(await orchestrator.project(ctx, record('task', 'a', 2))).toEqual([
      { backend: 'all', result: 'stale' },
    ]);
    expect(await orchestrator.project(ctx, record('task', 'a', 3))).toEqual([
      { backend: 'all', result: 'stale' },
    ]);
  });

  it('raises typed errors for an unsupported capability, a read-only backend and an unsupported mode', async () => {
    const orchestrator = createOrchestrator([
      fakeBackend('tasks', ['task']),
      fakeBackend('archive', '*', { readOnly: true }),
      fakeBackend('reader', '*', { modes: ['read'] }),
    ]);
    expect(await codeOf(orchestrator.project(ctx, record('unknown')))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_CAPABILITY.code,
    );
    expect(await codeOf(orchestrator.projectTo('tasks', ctx, record('note')))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_CAPABILITY.code,
    );
    expect(await codeOf(orchestrator.projectTo('archive', ctx, record('task')))).toBe(
      projectorErrors.PROJECTION_READ_ONLY.code,
    );
    expect(await codeOf(orchestrator.projectTo('reader', ctx, record('task')))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_MODE.code,
    );
    expect(await codeOf(orchestrator.projectTo('nobody', ctx, record('task')))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_CAPABILITY.code,
    );
    expect(await codeOf(orchestrator.projectTo('tasks', ctx, record('task')))).toBeUndefined();
  });

  it('treats a declared mode without its method as unsupported', async () => {
    const broken: ProjectionBackend = {
      name: 'broken',
      capabilities: { aggregateTypes: '*', modes: ['upsert'], readOnly: false },
    };
    const orchestrator = createOrchestrator([broken]);
    expect(await codeOf(orchestrator.projectTo('broken', ctx, record('task')))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_MODE.code,
    );
    expect(await codeOf(orchestrator.project(ctx, record('task')))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_CAPABILITY.code,
    );
  });

  it('reads from backends in read order and reports the caches that missed', async () => {
    const primary = fakeBackend('primary', '*', { readOrder: 100 });
    const cache = fakeBackend('cache', ['task'], { readOrder: 10 });
    const orchestrator = createOrchestrator([primary, cache]);
    await primary.upsert?.(ctx, record('task', 'x', 2));
    const miss = await orchestrator.read({ sql: {} as never }, 'task', 'x');
    expect(miss?.backend).toBe('primary');
    expect(miss?.missed.map((b) => b.name)).toEqual(['cache']);
    await cache.upsert?.(ctx, record('task', 'x', 2));
    const hit = await orchestrator.read({ sql: {} as never }, 'task', 'x');
    expect(hit).toMatchObject({ backend: 'cache', missed: [] });
    expect(await orchestrator.read({ sql: {} as never }, 'task', 'none')).toBeUndefined();
  });

  it('fills the caches a read missed from the answering backend read again, never from the hit', async () => {
    const primary = fakeBackend('primary', '*', { readOrder: 100 });
    const cache = fakeBackend('cache', ['task'], { readOrder: 10 });
    const orchestrator = createOrchestrator([primary, cache]);
    await primary.upsert?.(ctx, record('task', 'x', 2));
    const miss = await orchestrator.read({ sql: {} as never }, 'task', 'x');
    if (miss === undefined) throw new Error('no hit');
    // A backend that cannot read for a fill is no source of fills.
    expect(await orchestrator.fill(ctx, miss)).toBe(0);
    expect(cache.upserts).toEqual([]);

    // A rebuild swaps the primary's record at the same version after the read.
    let swapping = true;
    primary.readForFill = (_ctx, type, id) =>
      Promise.resolve(swapping ? 'rebuilding' : primary.rows.get(`${type}/${id}`));
    primary.rows.set('task/x', { ...record('task', 'x', 2), fields: { title: 'rebuilt' } });
    expect(await orchestrator.fill(ctx, miss)).toBe(0);
    expect(cache.upserts).toEqual([]);
    swapping = false;
    expect(await orchestrator.fill(ctx, miss)).toBe(1);
    expect(cache.rows.get('task/x')?.fields).toEqual({ title: 'rebuilt' });
    expect(miss.record.fields).toEqual({ title: 'v2' });
    expect(await orchestrator.fill(ctx, { ...miss, missed: [] })).toBe(0);
  });

  it('narrows a rebuild to the backends and types that declare it', () => {
    const orchestrator = createOrchestrator([
      fakeBackend('all', '*'),
      fakeBackend('tasks', ['task', 'note']),
      fakeBackend('noRebuild', ['task'], { modes: ['upsert', 'read'] }),
      fakeBackend('archive', '*', { readOnly: true }),
    ]);
    const names = (scope: TypeScope) =>
      orchestrator.rebuildTargets(scope).map((t) => [t.backend.name, t.scope] as const);
    expect(names('*')).toEqual([
      ['all', '*'],
      ['tasks', ['task', 'note']],
    ]);
    expect(names(['note'])).toEqual([
      ['all', ['note']],
      ['tasks', ['note']],
    ]);
    const tasksOnly = createOrchestrator([fakeBackend('tasks', ['task'])]);
    expect(codeOfSync(() => tasksOnly.rebuildTargets(['note']))).toBe(
      projectorErrors.PROJECTION_UNSUPPORTED_CAPABILITY.code,
    );
  });

  it('refuses two backends with one name', () => {
    expect(() => createOrchestrator([fakeBackend('x', '*'), fakeBackend('x', ['task'])])).toThrow(/named x/);
  });
});
