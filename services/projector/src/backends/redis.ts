import type { ChainableCommander, Redis } from 'ioredis';
import type { ProjectionBackend, RebuildWriter } from '../backend.js';
import type { ProjectionRecord, TypeScope, UpsertResult } from '../model.js';

export interface RedisBackendOptions {
  /** A connected ioredis client; the composition root owns it. */
  readonly redis: Redis;
  /** Aggregate types cached here (`PROJECTOR_REDIS_TYPES`). */
  readonly aggregateTypes: readonly string[];
  /** Prefix of every key (tests use a unique one). Default `concord:projection:`. */
  readonly keyPrefix?: string;
  /** Backend name. Default `redis`. */
  readonly name?: string;
}

/**
 * Writes the record only when its version is newer than the cached one, atomically.
 * KEYS[1] aggregate key; ARGV[1] version; ARGV[2] the record as JSON. Returns 1 when written.
 */
const UPSERT_LUA = `
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'record', ARGV[2])
return 1
`;

/**
 * A rebuild's write: the record as the primary store committed it, so it also replaces a cached record
 * at the same version (one written before the swap, from the read model the rebuild replaced).
 * Same keys and arguments as {@link UPSERT_LUA}.
 */
const REBUILD_LUA = `
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'record', ARGV[2])
return 1
`;

const COMMAND = 'concordProjectionUpsert';
const REBUILD_COMMAND = 'concordProjectionRebuild';

type WithUpsert<T> = T & {
  [COMMAND](key: string, version: number, record: string): Promise<number>;
  [REBUILD_COMMAND](key: string, version: number, record: string): Promise<number>;
};

const GLOB_SPECIAL = /[*?[\]\\]/g;
const escapeGlob = (text: string) => text.replace(GLOB_SPECIAL, (c) => `\\${c}`);

/**
 * A Redis cache of the configured aggregate types: one hash per aggregate holding its version and the
 * record. Writes are version-guarded by a Lua script, so redelivered or reordered messages (and a
 * rebuild racing live updates) never move an aggregate back. Live projections write it only after
 * their Postgres transaction committed, having dropped the aggregates' keys inside it
 * (`outsideTransaction`), so it is never ahead of a committed row; a crash in between leaves a miss.
 */
export const createRedisBackend = (options: RedisBackendOptions): ProjectionBackend => {
  const prefix = options.keyPrefix ?? 'concord:projection:';
  const redis = options.redis as WithUpsert<Redis>;
  if (typeof (redis as Partial<WithUpsert<Redis>>)[COMMAND] !== 'function') {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: UPSERT_LUA });
  }
  if (typeof (redis as Partial<WithUpsert<Redis>>)[REBUILD_COMMAND] !== 'function') {
    redis.defineCommand(REBUILD_COMMAND, { numberOfKeys: 1, lua: REBUILD_LUA });
  }
  const key = (type: string, id: string) => `${prefix}${encodeURIComponent(type)}:${id}`;
  const upsertArgs = (record: ProjectionRecord) =>
    [key(record.type, record.id), record.version, JSON.stringify(record)] as const;

  const deleteMatching = async (pattern: string) => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  };

  return {
    name: options.name ?? 'redis',
    capabilities: {
      aggregateTypes: [...options.aggregateTypes],
      modes: ['upsert', 'rebuild', 'read'],
      readOnly: false,
      readOrder: 10,
      outsideTransaction: true,
    },
    async invalidate(records) {
      if (records.length > 0) await redis.unlink(...records.map((record) => key(record.type, record.id)));
    },
    async upsert(_ctx, record): Promise<UpsertResult> {
      const written = await redis[COMMAND](...upsertArgs(record));
      return written === 1 ? 'applied' : 'stale';
    },
    async upsertMany(_ctx, records): Promise<UpsertResult[]> {
      if (records.length === 0) return [];
      // One round trip; Redis runs the scripts in order, so an aggregate named twice applies in turn.
      const pipeline = redis.pipeline() as WithUpsert<ChainableCommander>;
      for (const record of records) void pipeline[COMMAND](...upsertArgs(record));
      const results = (await pipeline.exec()) ?? [];
      return records.map((_, i) => {
        const [error, written] = results[i] ?? [new Error('Redis pipeline returned too few results')];
        if (error) throw error;
        return written === 1 ? 'applied' : 'stale';
      });
    },
    async read(_ctx, type, id) {
      const text = await redis.hget(key(type, id), 'record');
      return text === null ? undefined : (JSON.parse(text) as ProjectionRecord);
    },
    async beginRebuild(_ctx, scope: TypeScope): Promise<RebuildWriter> {
      // Drop what the scope holds, inside the swap; the rebuilt records come once the swap committed
      // (`outsideTransaction`), read back from the primary store, so they win over a record at the
      // same version cached meanwhile (a live write of a row committed before the swap) and lose only
      // to newer ones.
      const types = scope === '*' ? options.aggregateTypes : scope;
      for (const type of types) await deleteMatching(`${escapeGlob(key(type, ''))}*`);
      return {
        async write(records) {
          if (records.length === 0) return;
          const pipeline = redis.pipeline() as WithUpsert<ChainableCommander>;
          for (const record of records) void pipeline[REBUILD_COMMAND](...upsertArgs(record));
          const results = await pipeline.exec();
          const failed = results?.find(([error]) => error !== null);
          if (failed?.[0]) throw failed[0];
        },
        finish: () => Promise.resolve(),
      };
    },
  };
};
