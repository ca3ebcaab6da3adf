import { scopeId } from '@concord/core/envelope';
import { tenantKeyText } from '@concord/outbox';
import { createAuthenticator } from '@concord/service-kit';
import { signTestToken } from '@concord/service-kit/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { amountConflict, createHarness, titleConflict } from './support/harness.js';
import type { Harness } from './support/harness.js';

const SECRET = 'resolver-tenants-test-secret-32-chars+';

/** The default tenant (a credential without a `tenant` claim) and two named ones. */
const TENANTS = [undefined, 'acme', 'globex'] as const;
type Tenant = (typeof TENANTS)[number];

/** Every tenant has these aggregates, under the same ids: a review on `shared-a`, a decided `shared-t`. */
const SHARED_REVIEW = 'shared-a';
const SHARED_DECIDED = 'shared-t';
/** Only globex has these. */
const GLOBEX_REVIEW = 'globex-a';
const GLOBEX_DECIDED = 'globex-t';

/** Each tenant's third amount, so a reply shows whose conflict it is. */
const amountOf = (tenant: Tenant): number => 30 + TENANTS.indexOf(tenant);

/**
 * The resolver's routes with authentication on, each caller seeing only its tenant's conflicts (DESIGN §5
 * "Tenants"): conflicts are stored under scoped ids, as ingest's scoped events make them.
 */
describe('conflicts per tenant', () => {
  let h: Harness;

  /** As the harness answers: the status and the JSON body. */
  const call = async (
    tenant: Tenant,
    method: string,
    path: string,
    body?: unknown,
  ): ReturnType<Harness['http']> => {
    const token = await signTestToken({
      secret: SECRET,
      subject: 'reviewer',
      scope: 'events:read conflicts:decide',
      ...(tenant === undefined ? {} : { tenant }),
    });
    const response = await fetch(`${h.service.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };

  const conflictPath = (id: string, action = ''): string =>
    `/v1/conflicts/${encodeURIComponent(id)}${action === '' ? '' : `/${action}`}`;

  /** Every conflict id a tenant's list holds, following the cursors one conflict at a time. */
  const listed = async (tenant: Tenant, status = ''): Promise<string[]> => {
    const ids: string[] = [];
    let after = '';
    for (;;) {
      const query = `limit=1${status === '' ? '' : `&status=${status}`}${after === '' ? '' : `&after=${after}`}`;
      const page = await call(tenant, 'GET', `/v1/conflicts?${query}`);
      expect(page.status).toBe(200);
      ids.push(...(page.body.conflicts as { id: string }[]).map((c) => c.id));
      if (page.body.next === null) return ids.sort();
      after = page.body.next as string;
    }
  };

  /** What the resolver holds of every conflict, its ledger and its outbox: unchanged by a refused call. */
  const snapshot = async () => ({
    conflicts: (
      await h.db.query(
        `SELECT conflict_id, status, ledger_id::float8 AS ledger_id, reopens, updated_at::text AS updated_at
         FROM concord.conflicts ORDER BY conflict_id`,
      )
    ).rows,
    ledger: (await h.db.query('SELECT count(*)::int AS n FROM concord.resolution_ledger')).rows,
    outbox: (await h.db.query('SELECT count(*)::int AS n FROM concord.outbox')).rows,
  });

  const statusOf = async (conflictId: string): Promise<unknown> =>
    (await h.db.query('SELECT status FROM concord.conflicts WHERE conflict_id = $1', [conflictId])).rows[0]?.[
      'status'
    ];

  beforeAll(async () => {
    h = await createHarness(inject('DATABASE_URL'), {
      access: {
        authenticator: createAuthenticator({ jwt: { secret: SECRET } }),
        corsOrigins: [],
        rateLimitPerMin: 0,
      },
    });
    const decide = async (aggregateId: string) =>
      h.module.resolver.handleDetected(await h.detected(`${aggregateId}-3`));
    for (const tenant of TENANTS) {
      const review = scopeId(tenant, SHARED_REVIEW);
      const decided = scopeId(tenant, SHARED_DECIDED);
      await h.append(amountConflict(review, { amount: amountOf(tenant) }));
      await h.append(titleConflict(decided));
      await decide(review);
      await decide(decided);
    }
    const review = scopeId('globex', GLOBEX_REVIEW);
    const decided = scopeId('globex', GLOBEX_DECIDED);
    await h.append(amountConflict(review));
    await h.append(titleConflict(decided));
    await decide(review);
    await decide(decided);
  });
  afterAll(() => h.close());

  it("GET /v1/conflicts lists only the caller's tenant's conflicts, filtered and paged", async () => {
    const own = [`${SHARED_REVIEW}-3`, `${SHARED_DECIDED}-3`];
    expect(await listed(undefined)).toEqual(own);
    expect(await listed('acme')).toEqual(own);
    expect(await listed('globex')).toEqual([...own, `${GLOBEX_REVIEW}-3`, `${GLOBEX_DECIDED}-3`].sort());
    expect(await listed(undefined, 'pending_review')).toEqual([`${SHARED_REVIEW}-3`]);
    expect(await listed('acme', 'pending_review')).toEqual([`${SHARED_REVIEW}-3`]);
    expect(await listed('globex', 'pending_review')).toEqual([`${GLOBEX_REVIEW}-3`, `${SHARED_REVIEW}-3`]);
    expect(await listed('acme', 'resolved')).toEqual([`${SHARED_DECIDED}-3`]);
    // The list's tenant condition is the indexed expression: with scans off, a page uses the index.
    const plan = await h.db.withTransaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<Record<string, string>>(
        `EXPLAIN SELECT c.conflict_id FROM concord.conflicts c WHERE ${tenantKeyText('c.conflict_id')} = 'acme'
         ORDER BY c.created_at, c.conflict_id LIMIT 10`,
      );
      return rows.map((row) => Object.values(row)[0]).join('\n');
    });
    expect(plan).toContain('conflicts_by_tenant');
  });

  it("GET /v1/conflicts/:id answers the caller's tenant's conflict, and 404 for another tenant's", async () => {
    for (const tenant of TENANTS) {
      const own = await call(tenant, 'GET', conflictPath(`${SHARED_REVIEW}-3`));
      expect(own.status, tenant).toBe(200);
      expect(own.body, tenant).toMatchObject({
        id: `${SHARED_REVIEW}-3`,
        aggregateId: SHARED_REVIEW,
        status: 'pending_review',
        conflict: { event: { id: `${SHARED_REVIEW}-3`, data: { amount: amountOf(tenant) } } },
      });
    }
    const notFound = { status: 404, body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } } };
    for (const tenant of [undefined, 'acme'] as const) {
      // globex's conflict, by its id and by its scoped id.
      expect(await call(tenant, 'GET', conflictPath(`${GLOBEX_REVIEW}-3`))).toMatchObject(notFound);
      expect(await call(tenant, 'GET', conflictPath(scopeId('globex', `${SHARED_REVIEW}-3`)))).toMatchObject(
        notFound,
      );
    }
    // A tenant's own scoped id is not an id it knows either.
    expect(await call('acme', 'GET', conflictPath(scopeId('acme', `${SHARED_REVIEW}-3`)))).toMatchObject(
      notFound,
    );
    expect(await call('globex', 'GET', conflictPath(`${GLOBEX_REVIEW}-3`))).toMatchObject({ status: 200 });
  });

  it("POST /v1/conflicts/:id/decision settles the caller's tenant's review only; another tenant's is 404, nothing written", async () => {
    const before = await snapshot();
    for (const tenant of [undefined, 'acme'] as const) {
      for (const id of [`${GLOBEX_REVIEW}-3`, scopeId('globex', `${SHARED_REVIEW}-3`)]) {
        const refused = await call(tenant, 'POST', conflictPath(id, 'decision'), { choose: 'local' });
        expect(refused, `${tenant ?? 'default'} ${id}`).toMatchObject({
          status: 404,
          body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } },
        });
      }
    }
    expect(await snapshot()).toEqual(before);

    const decided = await call('acme', 'POST', conflictPath(`${SHARED_REVIEW}-3`, 'decision'), {
      choose: 'local',
    });
    expect(decided).toMatchObject({
      status: 200,
      body: { id: `${SHARED_REVIEW}-3`, aggregateId: SHARED_REVIEW, status: 'resolved' },
    });
    expect(await statusOf(scopeId('acme', `${SHARED_REVIEW}-3`))).toBe('resolved');
    // A refusal names the conflict as its tenant knows it.
    const again = await call('acme', 'POST', conflictPath(`${SHARED_REVIEW}-3`, 'decision'), {
      choose: 'local',
    });
    expect(again).toMatchObject({
      status: 409,
      body: { error: { code: 'CONCORD_CONFLICT_ALREADY_DECIDED' } },
    });
    expect(again.body.error.details).toMatchObject({ conflictId: `${SHARED_REVIEW}-3` });
    expect(again.body.error.message).toContain(`conflict ${SHARED_REVIEW}-3 is already resolved`);
    expect(await statusOf(`${SHARED_REVIEW}-3`)).toBe('pending_review');
    expect(await statusOf(scopeId('globex', `${SHARED_REVIEW}-3`))).toBe('pending_review');
  });

  it("POST /v1/conflicts/:id/reopen reopens the caller's tenant's conflict only; another tenant's is 404, nothing written", async () => {
    const before = await snapshot();
    for (const tenant of [undefined, 'acme'] as const) {
      for (const id of [`${GLOBEX_DECIDED}-3`, scopeId('globex', `${SHARED_DECIDED}-3`)]) {
        const refused = await call(tenant, 'POST', conflictPath(id, 'reopen'), { reason: 'second look' });
        expect(refused, `${tenant ?? 'default'} ${id}`).toMatchObject({
          status: 404,
          body: { error: { code: 'CONCORD_CONFLICT_NOT_FOUND' } },
        });
      }
    }
    expect(await snapshot()).toEqual(before);

    const reopened = await call('acme', 'POST', conflictPath(`${SHARED_DECIDED}-3`, 'reopen'), {
      reason: 'second look',
    });
    expect(reopened).toMatchObject({
      status: 200,
      body: { id: `${SHARED_DECIDED}-3`, aggregateId: SHARED_DECIDED, status: 'pending_review' },
    });
    expect(await statusOf(scopeId('acme', `${SHARED_DECIDED}-3`))).toBe('pending_review');
    expect(await statusOf(`${SHARED_DECIDED}-3`)).toBe('resolved');
    expect(await statusOf(scopeId('globex', `${SHARED_DECIDED}-3`))).toBe('resolved');
  });
});
