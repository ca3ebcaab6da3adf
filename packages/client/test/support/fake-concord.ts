import type { JsonObject } from '../../src/types.js';

interface Submitted {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly type: string;
  readonly baseVersion?: number;
  readonly hlc?: string;
  readonly origin?: string;
  readonly data: JsonObject;
}

interface Row {
  readonly event: Submitted & { readonly serverHlc: string; readonly metadata?: Record<string, string> };
  readonly outcome: string;
  readonly version: number;
}

interface Recorded {
  outcome: string;
  version?: number;
  conflictId?: string;
  decision?: JsonObject;
}

/**
 * A small in-memory stand-in for Concord's HTTP API, for the client's unit tests: outcomes by base
 * version and overlapping fields (DESIGN §3), conflicts held until the test decides them, the feed,
 * and faults (lost responses, push-backs, an unreachable server).
 */
export class FakeConcord {
  readonly rows: Row[] = [];
  readonly events = new Map<string, Recorded>();
  readonly received: string[] = [];
  readonly requests: { method: string; path: string; authorization?: string }[] = [];
  #versions = new Map<string, number>();
  #fields = new Map<string, string[][]>();
  #clock = 0;
  /** Process the next POST, then fail as if the response was lost. */
  loseNextResponse = false;
  /** Answer the next requests with this status (and Retry-After seconds). */
  pushBack: { status: number; retryAfter?: string; times: number } | undefined;
  offline = false;

  readonly fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    new Promise((resolve) => resolve(this.#handle(input, init)));

  #handle(input: string | URL | Request, init?: RequestInit): Response {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? 'GET';
    const authorization = new Headers(init?.headers).get('authorization') ?? undefined;
    this.requests.push({
      method,
      path: url.pathname + url.search,
      ...(authorization === undefined ? {} : { authorization }),
    });
    if (this.offline) throw new TypeError('fetch failed');
    if (this.pushBack !== undefined && this.pushBack.times > 0) {
      this.pushBack.times -= 1;
      return json(
        this.pushBack.status,
        { error: { code: 'CONCORD_OVERLOADED', message: 'busy' } },
        this.pushBack.retryAfter === undefined ? {} : { 'retry-after': this.pushBack.retryAfter },
      );
    }
    if (method === 'POST' && url.pathname === '/v1/events') {
      const body = JSON.parse(init?.body as string) as { events: Submitted[] };
      const results = body.events.map((event) => this.#submit(event));
      if (this.loseNextResponse) {
        this.loseNextResponse = false;
        throw new TypeError('fetch failed: socket hang up');
      }
      return json(200, { results });
    }
    if (method === 'GET' && url.pathname === '/v1/events') {
      const after = Number(url.searchParams.get('after') ?? '0');
      const limit = Number(url.searchParams.get('limit') ?? '100');
      const page = this.rows
        .slice(after, after + limit)
        .map((row, i) => ({ ...row, cursor: String(after + i + 1) }));
      return json(200, { events: page, next: String(after + page.length) });
    }
    if (method === 'GET' && url.pathname.startsWith('/v1/events/')) {
      const id = decodeURIComponent(url.pathname.slice('/v1/events/'.length));
      const recorded = this.events.get(id);
      return recorded === undefined
        ? json(404, { error: { code: 'CONCORD_EVENT_NOT_FOUND', message: 'no such event' } })
        : json(200, { event: { id }, ...recorded });
    }
    return json(404, { error: { code: 'CONCORD_NOT_FOUND', message: 'no route' } });
  }

  /** The server's state of an aggregate: every applied row folded. */
  state(aggregateType: string, aggregateId: string): { version: number; fields: JsonObject } {
    const fields: JsonObject = {};
    let version = 0;
    for (const row of this.rows) {
      if (row.event.aggregateType !== aggregateType || row.event.aggregateId !== aggregateId) continue;
      Object.assign(fields, row.event.data);
      version = row.version;
    }
    return { version, fields };
  }

  /** Decides a held conflict as the resolver would: `fields` applied as `<id>:resolution` (none: nothing changes). */
  decide(id: string, outcome: 'resolved' | 'rejected', fields: JsonObject | undefined): void {
    const recorded = this.events.get(id);
    if (recorded?.outcome !== 'conflict') throw new Error(`${id} is not in conflict`);
    const source = this.#conflicts.get(id);
    if (source === undefined) throw new Error(`${id} unknown`);
    if (fields === undefined) {
      this.events.set(id, { outcome, conflictId: id, decision: { strategy: 'test' } });
      return;
    }
    const version = this.#apply({
      ...source,
      id: `${id}:resolution`,
      type: 'ConflictResolved',
      data: fields,
      metadata: { conflictId: id, eventId: id },
      outcome,
    });
    this.events.set(id, {
      outcome,
      version,
      conflictId: id,
      decision: { strategy: 'test', appliedEventId: `${id}:resolution`, version },
    });
  }

  #conflicts = new Map<string, Submitted>();

  #submit(event: Submitted): object {
    this.received.push(event.id);
    const known = this.events.get(event.id);
    if (known !== undefined) {
      return { id: event.id, outcome: 'duplicate', originalOutcome: known.outcome, ...version(known) };
    }
    const key = JSON.stringify([event.aggregateType, event.aggregateId]);
    const current = this.#versions.get(key) ?? 0;
    const base = event.baseVersion ?? current;
    let recorded: Recorded;
    if (base > current) recorded = { outcome: 'rejected' };
    else if (base === current)
      recorded = { outcome: 'applied', version: this.#apply({ ...event, outcome: 'applied' }) };
    else {
      const since = (this.#fields.get(key) ?? []).slice(base).flat();
      const overlap = Object.keys(event.data).some((field) => since.includes(field));
      if (overlap) {
        this.#conflicts.set(event.id, event);
        recorded = { outcome: 'conflict', version: current, conflictId: event.id };
      } else recorded = { outcome: 'merged', version: this.#apply({ ...event, outcome: 'merged' }) };
    }
    this.events.set(event.id, recorded);
    return { id: event.id, ...recorded };
  }

  #apply(event: Submitted & { outcome: string; metadata?: Record<string, string> }): number {
    const key = JSON.stringify([event.aggregateType, event.aggregateId]);
    const next = (this.#versions.get(key) ?? 0) + 1;
    this.#versions.set(key, next);
    this.#fields.set(key, [...(this.#fields.get(key) ?? []), Object.keys(event.data)]);
    const { outcome, ...submitted } = event;
    this.#clock += 1;
    this.rows.push({
      event: { ...submitted, serverHlc: `${String(this.#clock).padStart(15, '0')}-000000-fake` },
      outcome,
      version: next,
    });
    return next;
  }
}

const version = (recorded: Recorded) => ({
  ...(recorded.version === undefined ? {} : { version: recorded.version }),
  ...(recorded.conflictId === undefined ? {} : { conflictId: recorded.conflictId }),
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
