import { ConcordError, coreErrors, isPlainObject } from '@concord/core';
import type { SpecRegistry } from '@concord/core/policy';
import type { StrategyRegistry } from '@concord/core/strategy';
import type { Database } from '@concord/outbox';
import { requestedId, serviceKitErrors, subjectOf, tenantOf } from '@concord/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { registerDryRun } from './dry-run.js';
import { parseReopen } from './reopen-input.js';
import type { PolicySource } from './policy/source.js';
import { CONFLICT_STATUSES } from './conflict-records.js';
import type { ConflictRow, ConflictStatus, LedgerRow } from './conflict-records.js';
import type { Resolver } from './types.js';
import { DECISION_SCHEMA, GET_SCHEMA, LIST_SCHEMA, POLICY_SCHEMA, REOPEN_SCHEMA } from './routes-schemas.js';
import { resolverErrors } from './errors.js';

export interface RoutesDeps {
  readonly resolver: Resolver;
  readonly db: Database;
  readonly policy: PolicySource;
  /** Strategies and specs a candidate policy of a dry run may name (the live policy's). */
  readonly registry?: StrategyRegistry;
  readonly specs?: SpecRegistry;
}

const queryError = (message: string, details?: unknown): ConcordError =>
  new ConcordError(resolverErrors.QUERY_INVALID, message, details === undefined ? {} : { details });

const notFound = (id: string): ConcordError =>
  new ConcordError(resolverErrors.CONFLICT_NOT_FOUND, `no conflict ${id}`, { details: { conflictId: id } });

/**
 * The conflict `:id` names, as stored: scoped for the caller's tenant (DESIGN §5 "Tenants"), so it can
 * only be one of the caller's own; an id no conflict of the caller's can have is not found.
 */
const conflictIdOf = (request: FastifyRequest): string => {
  const { id } = request.params as { id: string };
  const scoped = requestedId(request, id);
  if (scoped === undefined) throw notFound(id);
  return scoped;
};

const summary = (row: ConflictRow) => ({
  id: row.conflictId,
  eventId: row.eventId,
  aggregateType: row.aggregateType,
  aggregateId: row.aggregateId,
  status: row.status,
  rule: row.rule,
  group: row.group,
  strategy: row.strategy,
  version: row.version,
  fields: row.conflict.overlappingFields,
  review:
    row.status === 'pending_review'
      ? { dueAt: row.dueAt, escalateTo: row.escalateTo, provisional: row.provisionalEventId !== null }
      : null,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** A conflict with its explanation: which rule matched and why, what was chosen per field, history. */
export const conflictView = (row: ConflictRow, ledger: readonly LedgerRow[]) => {
  const d = row.decision;
  const first = ledger[0]?.record ?? d;
  return {
    ...summary(row),
    conflict: row.conflict,
    explanation: {
      policy: first.policy,
      via: first.via,
      rule: first.rule ?? null,
      group: first.group ?? null,
      strategy: first.strategy,
      conditions: first.conditions,
      skipped: first.skipped,
      choices: first.choices,
      reasons: first.reasons,
      review: first.review ?? null,
    },
    decision: d,
    decisions: ledger.map((l) => ({
      id: l.id,
      outcome: l.outcome,
      final: l.final,
      provisional: l.provisional,
      decidedBy: l.decidedBy,
      userId: l.userId,
      strategy: l.strategy,
      version: l.version,
      decidedAt: l.decidedAt,
      round: l.round,
      choices: l.record.choices,
      reasons: l.record.reasons,
      ...('reopen' in l.record ? { reopen: l.record.reopen } : {}),
    })),
  };
};

/**
 * The body of a decision or reopen with its `userId` set to the authenticated subject (DESIGN §5): with
 * authentication on, the caller may leave `userId` out, and one that names someone else is refused (403
 * `CONCORD_FORBIDDEN`) rather than recorded. With authentication off the body's `userId` stands.
 */
const asSubject = (request: FastifyRequest): unknown => {
  const subject = subjectOf(request);
  const body = request.body;
  if (subject === undefined || !isPlainObject(body)) return body;
  const claimed = body['userId'];
  if (claimed !== undefined && claimed !== subject) {
    throw new ConcordError(
      serviceKitErrors.FORBIDDEN,
      `userId must be the authenticated subject (${JSON.stringify(subject)})`,
      {
        details: { userId: claimed, subject },
      },
    );
  }
  return { ...body, userId: subject };
};

/** DESIGN §5: the resolver's HTTP API. */
export const registerRoutes = (app: FastifyInstance, deps: RoutesDeps): void => {
  const { resolver, db, policy } = deps;

  app.get('/v1/policy', { config: { scope: 'events:read' }, schema: POLICY_SCHEMA }, () => ({
    policy: policy.info(),
  }));
  registerDryRun(app, {
    db,
    conflicts: resolver.conflicts,
    ...(deps.registry === undefined ? {} : { registry: deps.registry }),
    ...(deps.specs === undefined ? {} : { specs: deps.specs }),
  });

  app.get('/v1/conflicts', { config: { scope: 'events:read' }, schema: LIST_SCHEMA }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const status = query['status'];
    if (status !== undefined && !CONFLICT_STATUSES.includes(status as ConflictStatus)) {
      throw queryError(`status must be one of ${CONFLICT_STATUSES.join(', ')}`, { status });
    }
    const rawLimit = query['limit'];
    const limit = rawLimit === undefined ? 50 : Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw queryError('limit must be an integer from 1 to 500', { limit: rawLimit });
    }
    const after = query['after'];
    if (after !== undefined && typeof after !== 'string') throw queryError('after must be a cursor');
    const page = await resolver.conflicts.list(db, {
      limit,
      ...(status === undefined ? {} : { status: status as ConflictStatus }),
      ...(after === undefined || after === '' ? {} : { after }),
      scope: { tenant: tenantOf(request) },
    });
    return { conflicts: page.rows.map(summary), next: page.next ?? null };
  });

  app.get('/v1/conflicts/:id', { config: { scope: 'events:read' }, schema: GET_SCHEMA }, async (request) => {
    const id = conflictIdOf(request);
    const row = await resolver.conflicts.get(db, id);
    if (row === undefined) throw notFound(id);
    return conflictView(row, await resolver.conflicts.ledgerOf(db, id));
  });

  app.post(
    '/v1/conflicts/:id/decision',
    { config: { scope: 'conflicts:decide' }, schema: DECISION_SCHEMA },
    async (request) => {
      const id = conflictIdOf(request);
      await resolver.decideByHuman(id, asSubject(request));
      const row = await resolver.conflicts.get(db, id);
      if (row === undefined) throw new ConcordError(coreErrors.INTERNAL, `conflict ${id} vanished`);
      return conflictView(row, await resolver.conflicts.ledgerOf(db, id));
    },
  );

  app.post(
    '/v1/conflicts/:id/reopen',
    { config: { scope: 'conflicts:decide' }, schema: REOPEN_SCHEMA },
    async (request) => {
      const id = conflictIdOf(request);
      await resolver.reopen(
        id,
        parseReopen(asSubject(request), {
          ...(deps.registry === undefined ? {} : { registry: deps.registry }),
          ...(deps.specs === undefined ? {} : { specs: deps.specs }),
        }),
      );
      const row = await resolver.conflicts.get(db, id);
      if (row === undefined) throw new ConcordError(coreErrors.INTERNAL, `conflict ${id} vanished`);
      return conflictView(row, await resolver.conflicts.ledgerOf(db, id));
    },
  );
};
