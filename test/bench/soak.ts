/**
 * The soak of `pnpm bench:e2e -- --soak` (issue 15: table sizes bounded by retention). A steady offered
 * load through `POST /v1/events` for `durationSec`, a webhook subscription receiving every projection
 * (so deliveries are written and pruned too), and every `sampleSec` the row count and
 * `pg_total_relation_size` of every table of the Concord schema.
 *
 * A retained table is bounded when it stops growing once its retention has passed: its samples from
 * `settle` = retention + two pruning intervals on are split into halves, and the larger count (and size)
 * of the second half is at most 10% (sizes: 25%, plus one 8 kB page per index and table) above the
 * larger of the first. `bound` is that first-half maximum. A run shorter than `settle` plus four
 * samples cannot tell (`bounded: null`). Other tables are reported by kind: the event store and the
 * records of decisions grow with the data by design (`grows`), projections and aggregates with the
 * number of keys (`keyed`: the soak cycles through `aggregates` ids), the rest are bookkeeping of a
 * fixed size (`fixed`); a table Concord does not know of yet is `unclassified`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '@concord/outbox';

/** How each table of the schema is judged. */
const KINDS: Record<string, 'grows' | 'keyed' | 'fixed'> = {
  events: 'grows',
  event_rejections: 'grows',
  conflicts: 'grows',
  resolution_ledger: 'grows',
  outbox_dead_letters: 'grows',
  bus_dead_letters: 'grows',
  notifier_dead_letters: 'grows',
  aggregates: 'keyed',
  projections: 'keyed',
  projection_checkpoints: 'keyed',
  projection_checkpoint_slots: 'fixed',
  projection_rebuilds: 'fixed',
  projection_rebuild_rows: 'fixed',
  outbox_leases: 'fixed',
  outbox_relays: 'fixed',
  notifier_subscriptions: 'fixed',
  notifier_log_pruned: 'fixed',
};

export interface SoakRetention {
  /** Retention window of each retained table, in ms, as the services were configured. */
  readonly windows: Readonly<Record<string, number>>;
  /** Pause between pruning runs (`RETENTION_INTERVAL_MS`, the relay's cleanup interval). */
  readonly intervalMs: number;
}

/** The variables that give the services the soak's retention. */
export const soakRetentionEnv = (retentionSec: number, intervalSec: number): Record<string, string> => {
  const ms = String(retentionSec * 1000);
  return {
    INBOX_RETENTION_MS: ms,
    OUTBOX_RETENTION_MS: ms,
    NOTIFIER_LOG_RETENTION_MS: ms,
    NOTIFIER_DELIVERY_RETENTION_MS: ms,
    RETENTION_INTERVAL_MS: String(intervalSec * 1000),
    // The soak's webhook receiver listens on loopback.
    NOTIFIER_ALLOW_PRIVATE_URLS: 'true',
  };
};

export const soakRetention = (retentionSec: number, intervalSec: number): SoakRetention => ({
  windows: {
    inbox: retentionSec * 1000,
    notifier_log: retentionSec * 1000,
    notifier_deliveries: retentionSec * 1000,
    outbox: retentionSec * 1000,
  },
  intervalMs: intervalSec * 1000,
});

export interface SoakOptions {
  /** Ingest's URL. */
  readonly url: string;
  /** The notifier's URL (the webhook subscription). */
  readonly notifierUrl: string;
  readonly db: Database;
  readonly schema: string;
  readonly broker: string;
  readonly rate: number;
  readonly durationSec: number;
  readonly sampleSec: number;
  readonly batch: number;
  readonly aggregates: number;
  readonly maxInFlight: number;
  readonly retention: SoakRetention;
  readonly log: (line: string) => void;
}

interface Sample {
  readonly atSec: number;
  readonly rows: number;
  readonly bytes: number;
}

interface TableReport {
  readonly kind: 'retained' | 'grows' | 'keyed' | 'fixed' | 'unclassified';
  readonly first: number;
  readonly max: number;
  readonly last: number;
  /** Retained tables: the largest count of the first half after `settle` (the second may not pass it). */
  readonly bound?: number;
  readonly bytes: {
    readonly first: number;
    readonly max: number;
    readonly last: number;
    readonly bound?: number;
  };
  readonly retentionSec?: number;
  readonly settleSec?: number;
  readonly bounded?: boolean | null;
}

const sampleTables = async (
  db: Database,
  schema: string,
): Promise<Map<string, { rows: number; bytes: number }>> => {
  const { rows: tables } = await db.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
    [schema],
  );
  const result = new Map<string, { rows: number; bytes: number }>();
  for (const table of tables) {
    const quoted = `"${schema.replaceAll('"', '""')}"."${table.name.replaceAll('"', '""')}"`;
    const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoted}`);
    result.set(table.name, { rows: Number(rows[0]?.n ?? 0), bytes: Number(table.bytes) });
  }
  return result;
};

/** A loopback webhook receiver answering 204; counts what it got. */
const receiver = async () => {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received += 1;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

const maxOf = (samples: readonly Sample[], pick: (s: Sample) => number): number =>
  samples.reduce((max, s) => Math.max(max, pick(s)), 0);

/** The report of one table from its samples (see the module's comment for the rule). */
export const judgeTable = (
  name: string,
  samples: readonly Sample[],
  retention: SoakRetention,
  sampleSec: number,
): TableReport => {
  const first = samples[0] ?? { atSec: 0, rows: 0, bytes: 0 };
  const last = samples.at(-1) ?? first;
  const base = {
    first: first.rows,
    max: maxOf(samples, (s) => s.rows),
    last: last.rows,
    bytes: { first: first.bytes, max: maxOf(samples, (s) => s.bytes), last: last.bytes },
  };
  const window = retention.windows[name];
  if (window === undefined) return { kind: KINDS[name] ?? 'unclassified', ...base };
  const settleSec = (window + 2 * retention.intervalMs) / 1000;
  const steady = samples.filter((s) => s.atSec >= settleSec);
  const report = { kind: 'retained' as const, ...base, retentionSec: window / 1000, settleSec };
  if (steady.length < 4 || last.atSec - settleSec < 4 * sampleSec) return { ...report, bounded: null };
  const half = Math.floor(steady.length / 2);
  const [early, late] = [steady.slice(0, half), steady.slice(half)];
  const bound = maxOf(early, (s) => s.rows);
  const bytesBound = maxOf(early, (s) => s.bytes);
  const rowsHold = maxOf(late, (s) => s.rows) <= bound * 1.1 + 10;
  const bytesHold = maxOf(late, (s) => s.bytes) <= bytesBound * 1.25 + 8192 * 8;
  return {
    ...report,
    bound,
    bytes: { ...base.bytes, bound: bytesBound },
    bounded: rowsHold && bytesHold,
  };
};

/** Runs the soak and returns its JSON line. */
export const soak = async (options: SoakOptions) => {
  const { url, db, schema, rate, durationSec, sampleSec, batch, log } = options;
  // Pruned rows free their space only once vacuumed: with the server's autovacuum off (a CI setting),
  // a retained table's row count stays bounded but its size in bytes grows with everything it ever held.
  const { rows: settings } = await db.query<{ autovacuum: string }>('SHOW autovacuum');
  const autovacuum = settings[0]?.autovacuum ?? 'unknown';
  if (autovacuum !== 'on')
    log(`soak: the server's autovacuum is ${autovacuum}: sizes in bytes cannot stay bounded, only rows`);
  const hook = await receiver();
  const subscribed = await fetch(`${options.notifierUrl}/v1/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      url: hook.url,
      secret: `soak-${randomUUID()}`,
      filter: { topics: ['concord.aggregates.projected'] },
    }),
  });
  if (subscribed.status !== 201)
    throw new Error(`subscription refused: ${subscribed.status} ${await subscribed.text()}`);

  const samples = new Map<string, Sample[]>();
  const start = performance.now();
  const elapsedSec = () => (performance.now() - start) / 1000;
  const takeSample = async () => {
    const atSec = Math.round(elapsedSec());
    for (const [name, { rows, bytes }] of await sampleTables(db, schema)) {
      let list = samples.get(name);
      if (list === undefined) samples.set(name, (list = []));
      list.push({ atSec, rows, bytes });
    }
    const line = ['inbox', 'outbox', 'notifier_log', 'notifier_deliveries', 'events']
      .map((name) => `${name} ${samples.get(name)?.at(-1)?.rows ?? '-'}`)
      .join(', ');
    log(`soak ${atSec}s: ${line}`);
  };

  const run = randomUUID().slice(0, 8);
  const total = Math.round(rate * durationSec);
  const counts = { accepted: 0, rejected: 0, failed: 0 };
  let sent = 0;
  let inFlight = 0;
  const post = async (events: unknown[]) => {
    inFlight += 1;
    try {
      const response = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      const body = (await response.json()) as { results?: { outcome: string }[] };
      if (response.status === 429) counts.rejected += events.length;
      else if (!response.ok) counts.failed += events.length;
      else
        for (const result of body.results ?? []) {
          if (result.outcome === 'applied' || result.outcome === 'merged') counts.accepted += 1;
          else counts.failed += 1;
        }
    } catch {
      counts.failed += events.length;
    } finally {
      inFlight -= 1;
    }
  };

  await takeSample();
  let nextSample = sampleSec;
  const pending: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(elapsedSec() * rate));
    while (sent < due && inFlight < options.maxInFlight) {
      const events = [];
      for (let i = 0; i < batch && sent < due; i += 1, sent += 1) {
        events.push({
          id: `soak-${run}-${sent}`,
          type: 'TaskUpdated',
          aggregateType: 'task',
          aggregateId: `soak-${run}-${sent % options.aggregates}`,
          data: { title: `t${sent}`, n: sent },
        });
      }
      pending.push(post(events));
    }
    if (elapsedSec() >= nextSample) {
      nextSample += sampleSec;
      await takeSample();
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(pending);
  await takeSample();
  await hook.close();

  const tables: Record<string, TableReport> = {};
  for (const [name, list] of [...samples].sort(([a], [b]) => a.localeCompare(b)))
    tables[name] = judgeTable(name, list, options.retention, sampleSec);
  const retained = Object.values(tables).filter((t) => t.kind === 'retained');
  return {
    bench: 'e2e-soak',
    broker: options.broker,
    rate,
    durationSec,
    sampleSec,
    retentionSec: Object.fromEntries(
      Object.entries(options.retention.windows).map(([k, v]) => [k, v / 1000]),
    ),
    retentionIntervalSec: options.retention.intervalMs / 1000,
    autovacuum,
    ...counts,
    webhooksReceived: hook.received(),
    tables,
    // Over the retained tables whose retention passed within the run; the others are listed.
    bounded: retained.some((t) => t.bounded === true) && retained.every((t) => t.bounded !== false),
    notTested: Object.entries(tables)
      .filter(([, t]) => t.kind === 'retained' && t.bounded === null)
      .map(([name]) => name),
  };
};
