import { ConcordError, coreErrors } from '@concord/core';
import { compilePolicy, createDryRun, formatPolicyProblems, loadPolicy } from '@concord/core/policy';
import type { CompiledPolicy, DryRunReport, SpecRegistry } from '@concord/core/policy';
import type { StrategyRegistry } from '@concord/core/strategy';
import type { Sql } from '@concord/outbox';
import type { FastifyInstance } from 'fastify';
import type { ConflictReads, PolicyDecisionCursor } from './conflict-records.js';
import { DRY_RUN_SCHEMA } from './routes-schemas.js';
import { resolverErrors } from './errors.js';

/** Recorded conflicts read per query: the ledger is read in pages, never all at once. */
const PAGE = 1_000;
const MAX_CONFLICTS = 1_000_000;
const MAX_CHANGES = 1_000;
/** A candidate policy is a document of rules, not data: a small body is plenty. */
const MAX_POLICY_BYTES = 1024 * 1024;
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'];

export interface DryRunDeps {
  readonly db: Sql;
  readonly conflicts: ConflictReads;
  /** The strategies and `custom_match` specs the live policy was loaded with. */
  readonly registry?: StrategyRegistry;
  readonly specs?: SpecRegistry;
}

export interface DryRunRequest {
  readonly candidate: CompiledPolicy;
  readonly sinceMs?: number;
  readonly limit: number;
  readonly maxChanges: number;
}

/** Re-decides recorded conflicts (oldest first, in pages) with the candidate, in memory. */
export const dryRun = async (deps: DryRunDeps, request: DryRunRequest): Promise<DryRunReport> => {
  const run = createDryRun(request.candidate, { maxChanges: request.maxChanges });
  let seen = 0;
  let after: PolicyDecisionCursor | undefined;
  do {
    const page = await deps.conflicts.policyDecisions(deps.db, {
      limit: Math.min(PAGE, request.limit - seen),
      ...(request.sinceMs === undefined ? {} : { sinceMs: request.sinceMs }),
      ...(after === undefined ? {} : { after }),
    });
    for (const recorded of page.rows) run.add(recorded);
    seen += page.rows.length;
    after = page.next;
  } while (after !== undefined && seen < request.limit);
  return run.report();
};

const invalid = (message: string, details: unknown): ConcordError =>
  new ConcordError(resolverErrors.QUERY_INVALID, message, { details });

/** The candidate: a YAML (or JSON) text body, or a JSON document. Every problem is reported with its path. */
export const parseCandidate = (
  body: unknown,
  deps: Pick<DryRunDeps, 'registry' | 'specs'>,
): CompiledPolicy => {
  const options = {
    ...(deps.registry === undefined ? {} : { registry: deps.registry }),
    ...(deps.specs === undefined ? {} : { specs: deps.specs }),
  };
  const result =
    typeof body === 'string'
      ? loadPolicy(body, { ...options, format: 'yaml' })
      : compilePolicy(body ?? null, options);
  if (result.ok) return result.policy;
  throw new ConcordError(
    coreErrors.POLICY_INVALID,
    `The candidate policy is invalid:\n${formatPolicyProblems(result.problems)}`,
    { details: { problems: result.problems } },
  );
};

const integer = (raw: unknown, name: string, bounds: { min: number; max: number; fallback: number }) => {
  if (raw === undefined) return bounds.fallback;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw invalid(`${name} must be an integer from ${bounds.min} to ${bounds.max}`, { [name]: raw });
  }
  return value;
};

/** `since`: an ISO-8601 instant or milliseconds since the epoch. */
const sinceMs = (raw: unknown): number | undefined => {
  if (raw === undefined) return undefined;
  const value =
    typeof raw === 'string' && /^\d+$/.test(raw)
      ? Number(raw)
      : typeof raw === 'string'
        ? Date.parse(raw)
        : NaN;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid('since must be an ISO-8601 instant or milliseconds since the epoch', { since: raw });
  }
  return value;
};

/**
 * `POST /v1/policy/dry-run?since=&limit=&changes=`: what a candidate policy (the body, YAML or JSON)
 * would have decided on the recorded conflicts, compared with what their policy decided then. Nothing
 * is written. An invalid candidate is a 400 `CONCORD_POLICY_INVALID` listing every problem.
 */
export const registerDryRun = (app: FastifyInstance, deps: DryRunDeps): void => {
  void app.register((scope, _options, done) => {
    scope.addContentTypeParser(
      YAML_TYPES,
      { parseAs: 'string', bodyLimit: MAX_POLICY_BYTES },
      (_request, body, parsed) => parsed(null, body),
    );
    scope.post(
      '/v1/policy/dry-run',
      { bodyLimit: MAX_POLICY_BYTES, config: { scope: 'admin' }, schema: DRY_RUN_SCHEMA },
      async (request) => {
        const query = request.query as Record<string, unknown>;
        const limit = integer(query['limit'], 'limit', { min: 1, max: MAX_CONFLICTS, fallback: 100_000 });
        const maxChanges = integer(query['changes'], 'changes', { min: 0, max: MAX_CHANGES, fallback: 100 });
        const since = sinceMs(query['since']);
        const candidate = parseCandidate(request.body, deps);
        const report = await dryRun(deps, {
          candidate,
          limit,
          maxChanges,
          ...(since === undefined ? {} : { sinceMs: since }),
        });
        return { ...report, warnings: candidate.warnings };
      },
    );
    done();
  });
};
