/**
 * `pnpm bench:resolver`: the policy dry run as `POST /v1/policy/dry-run` runs it — 100,000 recorded
 * conflicts read from Postgres 1,000 at a time (conflict and its policy's ledger entry), each re-decided
 * by a candidate in memory. Writes bench-results/resolver.json; several runs, with their spread.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createDecisionRecord } from '@concord/core/decision';
import { baseMigrations } from '@concord/outbox';
import { createTestDatabase } from '@concord/outbox/testing';
// The 20-rule bench policy and its conflicts, shared with `pnpm bench:core` (core's policy-decide line).
import { RULES, benchConflict, concordPolicy } from '../../../packages/core/bench/policy-decide.js';
import { dryRun } from '../src/dry-run.js';
import { resolverMigrations } from '../src/migrations.js';
import { createResolverRepo } from '../src/repo.js';

const CONFLICTS = 100_000;
const RUNS = 3;
const clock = { now: () => 1_760_000_000_000 };

const adminUrl = process.env['DATABASE_URL'];
if (adminUrl === undefined) throw new Error('DATABASE_URL is required (infra/local.env)');
const database = await createTestDatabase({ adminUrl, sets: [...baseMigrations, resolverMigrations] });
try {
  const live = concordPolicy(RULES, 'last_write_wins');
  // One template per rule; the rows vary their ids around it.
  const templates = Array.from({ length: RULES }, (_, i) => {
    const conflict = benchConflict(i + 1, 'c-template');
    return {
      conflict,
      record: createDecisionRecord({ conflict, decision: live.decide(conflict), policy: live, clock }),
    };
  });
  const schema = database.schema;
  const started = performance.now();
  await database.db.query(
    `INSERT INTO "${schema}".resolution_ledger (conflict_id, event_id, aggregate_type, aggregate_id, outcome,
       final, provisional, policy_name, policy_hash, rule, strategy, decided_by, record, decided_at)
     SELECT 'c-' || g, 'c-' || g, 'task', 'task-' || g, 'resolved', true, false, 'bench', 'h', t.rule,
       'last_write_wins', 'policy', jsonb_set(t.record, '{conflictId}', to_jsonb('c-' || g)), now()
     FROM generate_series(0, $1 - 1) g
     JOIN unnest($2::jsonb[], $3::text[]) WITH ORDINALITY AS t(record, rule, n) ON t.n = g % $4 + 1`,
    [CONFLICTS, templates.map((t) => t.record), templates.map((t) => t.record.rule ?? null), RULES],
  );
  await database.db.query(
    `INSERT INTO "${schema}".conflicts (conflict_id, event_id, aggregate_type, aggregate_id, status, conflict,
       decision, ledger_id, rule, strategy, created_at, updated_at)
     SELECT l.conflict_id, l.event_id, l.aggregate_type, l.aggregate_id, 'resolved',
       jsonb_set(t.conflict, '{id}', to_jsonb(l.conflict_id)), l.record, l.id, l.rule, l.strategy,
       now() + l.id * interval '1 microsecond', now()
     FROM "${schema}".resolution_ledger l
     JOIN unnest($1::jsonb[]) WITH ORDINALITY AS t(conflict, n) ON t.n = (l.id - 1) % $2 + 1`,
    [templates.map((t) => t.conflict), RULES],
  );
  await database.db.query(`ANALYZE "${schema}".conflicts, "${schema}".resolution_ledger`);
  const setupSeconds = (performance.now() - started) / 1000;

  const candidate = concordPolicy(RULES, 'first_write_wins');
  const deps = { db: database.db, conflicts: createResolverRepo(schema) };
  const runs: { seconds: number; conflicts: number; changed: number }[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const begin = performance.now();
    const report = await dryRun(deps, { candidate, limit: CONFLICTS, maxChanges: 100 });
    runs.push({
      seconds: Math.round(performance.now() - begin) / 1000,
      conflicts: report.conflicts,
      changed: report.changed,
    });
    if (report.conflicts !== CONFLICTS) throw new Error(`the dry run saw ${report.conflicts} conflicts`);
  }
  const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const line = {
    bench: 'policy-dry-run-db',
    conflicts: CONFLICTS,
    pageSize: 1000,
    seconds: seconds[Math.floor(seconds.length / 2)],
    min: seconds[0],
    max: seconds.at(-1),
    runs: runs.map((r) => r.seconds),
    changed: runs[0]?.changed,
    setupSeconds: Math.round(setupSeconds * 1000) / 1000,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  const out = new URL('../../../bench-results/', import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL('resolver.json', out), `${JSON.stringify([line], null, 2)}\n`);
} finally {
  await database.close();
}
