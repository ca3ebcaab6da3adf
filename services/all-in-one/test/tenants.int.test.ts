import { signTestToken } from '@concord/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAllInOne } from './support/running.js';
import type { TestAllInOne } from './support/running.js';

const SECRET = 'all-in-one-tenants-secret-32-characters';

const POLICY = `version: '1.0'
name: tenants-test
settings: { default_fallback: last_write_wins }
rules:
  - name: review-amount
    conditions: { fields: [amount] }
    resolution: { strategy: manual_review, options: { timeout: 1h } }
`;

const USER_SCOPES = 'events:write events:read conflicts:decide subscriptions:manage';

/** A tenant as a caller: its name (`undefined`: the default tenant) and a token with every user scope. */
interface Caller {
  readonly name: string;
  readonly tenant: string | undefined;
  headers: Record<string, string>;
}

interface Problem {
  readonly error: { readonly code: string };
}

/**
 * Tenant isolation through the all-in-one, one test per route a tenant's credential may call: acme,
 * globex and the default tenant write the same event ids to the same aggregate ids, and each sees its
 * own and nothing of the others' (DESIGN §5 "Tenants").
 */
describe('tenants: every route shows a tenant its own data only', () => {
  let concord: TestAllInOne | undefined;
  let base = '';
  const acme: Caller = { name: 'acme', tenant: 'acme', headers: {} };
  const globex: Caller = { name: 'globex', tenant: 'globex', headers: {} };
  const plain: Caller = { name: 'default', tenant: undefined, headers: {} };
  const callers = [acme, globex, plain];

  const call = async <T>(caller: Caller, method: string, path: string, body?: unknown) => {
    const answer = await fetch(`${base}${path}`, {
      method,
      headers: { ...caller.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: answer.status, body: (await answer.json()) as T };
  };

  const submit = (caller: Caller, events: object[]) =>
    call<{ results: { id: string; outcome: string; conflictId?: string }[] }>(caller, 'POST', '/v1/events', {
      events,
    });

  const invoice = (id: string, aggregateId: string, data: object) => ({
    id,
    type: 'InvoiceChanged',
    aggregateType: 'invoice',
    aggregateId,
    baseVersion: 0,
    data,
  });

  /** Waits until `caller` sees `count` pending reviews. */
  const pendingReviews = async (caller: Caller, count: number) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const page = await call<{ conflicts: { id: string; aggregateId: string }[] }>(
        caller,
        'GET',
        '/v1/conflicts?status=pending_review',
      );
      if (page.body.conflicts.length >= count || Date.now() > deadline) return page.body.conflicts;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    concord = await startTestAllInOne({
      label: 'tenants',
      policy: POLICY,
      env: { CONCORD_AUTH_JWT_SECRET: SECRET },
    });
    base = concord.url;
    for (const caller of callers) {
      const token = await signTestToken({
        secret: SECRET,
        subject: `${caller.name}-user`,
        scope: USER_SCOPES,
        ...(caller.tenant === undefined ? {} : { tenant: caller.tenant }),
      });
      caller.headers = { authorization: `Bearer ${token}` };
    }
    // The same ids in every tenant: e-1 applies, e-2 (written without seeing it) conflicts on amount,
    // which the policy sends to review. Each tenant writes its own amounts.
    for (const [i, caller] of callers.entries()) {
      const first = await submit(caller, [invoice('e-1', 'inv-1', { amount: 100 + i, owner: caller.name })]);
      expect(first.body.results).toEqual([expect.objectContaining({ id: 'e-1', outcome: 'applied' })]);
      const second = await submit(caller, [invoice('e-2', 'inv-1', { amount: 200 + i })]);
      expect(second.body.results).toEqual([
        expect.objectContaining({ id: 'e-2', outcome: 'conflict', conflictId: 'e-2' }),
      ]);
    }
    // A conflict only acme has.
    await submit(acme, [invoice('only-1', 'inv-acme', { amount: 1 })]);
    await submit(acme, [invoice('only-2', 'inv-acme', { amount: 2 })]);
    expect(await pendingReviews(acme, 2)).toHaveLength(2);
    for (const caller of [globex, plain]) expect(await pendingReviews(caller, 1)).toHaveLength(1);
  });

  afterAll(async () => {
    await concord?.stop();
  });

  it('POST /v1/events: the same event id is a new event in each tenant, answered with the ids as sent', async () => {
    for (const caller of callers) {
      const again = await submit(caller, [invoice('e-1', 'inv-1', { amount: 1 })]);
      expect(again.body.results).toEqual([expect.objectContaining({ id: 'e-1', outcome: 'duplicate' })]);
    }
    const fresh = await submit(globex, [invoice('only-1', 'inv-globex', { amount: 5 })]);
    expect(fresh.body.results).toEqual([expect.objectContaining({ id: 'only-1', outcome: 'applied' })]);
    // The separator cannot be sent: no caller names another tenant's event or aggregate.
    const forged = await submit(plain, [invoice('acme\u001fe-9', 'acme\u001finv-1', { amount: 1 })]);
    expect(forged.body.results).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        error: expect.objectContaining({ code: 'CONCORD_EVENT_BAD_ID' }),
      }),
    ]);
  });

  it('GET /v1/events/:id: each tenant reads its own event; another tenant’s is not found', async () => {
    for (const [i, caller] of callers.entries()) {
      const stored = await call<{ event: { id: string; aggregateId: string; data: object } }>(
        caller,
        'GET',
        '/v1/events/e-1',
      );
      expect(stored.status).toBe(200);
      expect(stored.body.event).toMatchObject({
        id: 'e-1',
        aggregateId: 'inv-1',
        data: { amount: 100 + i, owner: caller.name },
      });
    }
    expect((await call(globex, 'GET', '/v1/events/only-2')).status).toBe(404);
    const forged = await call<Problem>(plain, 'GET', `/v1/events/${encodeURIComponent('acme\u001fe-1')}`);
    expect(forged.status).toBe(404);
    expect(forged.body.error.code).toBe('CONCORD_EVENT_NOT_FOUND');
  });

  it('GET /v1/events: the pull feed holds the caller’s tenant’s events only', async () => {
    type Feed = { events: { event: { id: string; aggregateId: string; data: { owner?: string } } }[] };
    for (const caller of callers) {
      const feed = await call<Feed>(caller, 'GET', '/v1/events?limit=1000');
      const events = feed.body.events.map((entry) => entry.event);
      expect(events.flatMap((event) => (event.data.owner === undefined ? [] : [event.data.owner]))).toEqual([
        caller.name,
      ]);
      for (const event of events) expect(event.id + event.aggregateId).not.toContain('\u001f');
    }
    const globex1 = await call<Feed>(globex, 'GET', '/v1/events');
    expect(globex1.body.events.map((entry) => entry.event.id)).toEqual(['e-1', 'only-1']);
  });

  it('GET /v1/aggregates/:type/:id: the same aggregate id is a different aggregate in each tenant', async () => {
    for (const [i, caller] of callers.entries()) {
      const deadline = Date.now() + 20_000;
      let state = await call<{ id: string; fields: { owner?: string; amount?: number } }>(
        caller,
        'GET',
        '/v1/aggregates/invoice/inv-1',
      );
      while (state.status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await call(caller, 'GET', '/v1/aggregates/invoice/inv-1');
      }
      expect(state.body).toMatchObject({ id: 'inv-1', fields: { owner: caller.name } });
      expect(state.body.fields.amount).toBe(100 + i);
    }
    expect((await call(globex, 'GET', '/v1/aggregates/invoice/inv-acme')).status).toBe(404);
    expect(
      (await call(plain, 'GET', `/v1/aggregates/invoice/${encodeURIComponent('acme\u001finv-1')}`)).status,
    ).toBe(404);
  });

  it('GET /v1/aggregates/:type/:id/history: a tenant’s history holds its own events', async () => {
    for (const caller of callers) {
      const history = await call<{
        id: string;
        events: { id: string; event: { data: { owner?: string } } }[];
      }>(caller, 'GET', '/v1/aggregates/invoice/inv-1/history');
      expect(history.body.id).toBe('inv-1');
      expect(history.body.events.map((entry) => entry.id)).toEqual(['e-1', 'e-2']);
      expect(history.body.events[0]?.event.data.owner).toBe(caller.name);
    }
    expect((await call(globex, 'GET', '/v1/aggregates/invoice/inv-acme/history')).status).toBe(404);
  });

  it('GET /v1/conflicts: a tenant lists its own conflicts', async () => {
    expect((await pendingReviews(acme, 2)).map((c) => c.id).sort()).toEqual(['e-2', 'only-2']);
    for (const caller of [globex, plain]) {
      expect((await pendingReviews(caller, 1)).map((c) => [c.id, c.aggregateId])).toEqual([['e-2', 'inv-1']]);
    }
  });

  it('GET /v1/conflicts/:id: another tenant’s conflict is not found', async () => {
    const own = await call<{ id: string }>(acme, 'GET', '/v1/conflicts/only-2');
    expect(own.status).toBe(200);
    expect(own.body.id).toBe('only-2');
    for (const caller of [globex, plain]) {
      const other = await call<Problem>(caller, 'GET', '/v1/conflicts/only-2');
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('CONCORD_CONFLICT_NOT_FOUND');
    }
  });

  it('POST /v1/conflicts/:id/decision: a tenant decides its own conflict only, and the others’ stay open', async () => {
    const refused = await call<Problem>(globex, 'POST', '/v1/conflicts/only-2/decision', {
      choose: 'remote',
    });
    expect(refused.status).toBe(404);
    expect((await call<{ status: string }>(acme, 'GET', '/v1/conflicts/only-2')).body.status).toBe(
      'pending_review',
    );
    const decided = await call<{ id: string; status: string }>(acme, 'POST', '/v1/conflicts/e-2/decision', {
      choose: 'remote',
    });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ id: 'e-2', status: 'resolved' });
    for (const caller of [globex, plain]) {
      expect((await call<{ status: string }>(caller, 'GET', '/v1/conflicts/e-2')).body.status).toBe(
        'pending_review',
      );
    }
  });

  it('POST /v1/conflicts/:id/reopen: another tenant’s decided conflict is not found', async () => {
    const refused = await call<Problem>(globex, 'POST', '/v1/conflicts/e-2/reopen', { reason: 'check' });
    // globex's own e-2 is still in review: its answer is about its own conflict, never acme's.
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CONCORD_CONFLICT_PENDING_REVIEW');
    const missing = await call<Problem>(globex, 'POST', '/v1/conflicts/only-2/reopen', { reason: 'check' });
    expect(missing.status).toBe(404);
    const reopened = await call<{ id: string; status: string }>(acme, 'POST', '/v1/conflicts/e-2/reopen', {
      reason: 'check',
    });
    expect(reopened.status).toBe(200);
    expect(reopened.body.id).toBe('e-2');
  });

  it('admin routes act on every tenant: a tenant’s admin credential is refused', async () => {
    const token = await signTestToken({
      secret: SECRET,
      subject: 'acme-admin',
      scope: 'admin',
      tenant: 'acme',
    });
    const admin: Caller = {
      name: 'acme-admin',
      tenant: 'acme',
      headers: { authorization: `Bearer ${token}` },
    };
    for (const [method, path, body] of [
      ['GET', '/v1/dead-letters?kind=outbox', undefined],
      ['POST', '/v1/projections/rebuild', {}],
      ['GET', '/v1/projections/checkpoints', undefined],
      ['POST', '/v1/policy/dry-run', POLICY],
    ] as const) {
      const answer = await call<Problem>(admin, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error.code).toBe('CONCORD_FORBIDDEN');
    }
    const metrics = await fetch(`${base}/metrics`, { headers: admin.headers });
    expect(metrics.status).toBe(403);
  });
});
