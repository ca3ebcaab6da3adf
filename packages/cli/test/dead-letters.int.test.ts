/**
 * `concord dead-letters list|replay` end to end, against the all-in-one process with its embedded bus and
 * job queue (on Postgres, so the test can reach the outbox). Each kind of dead letter is made for real,
 * listed, replayed, and its effect seen once: a webhook endpoint failing every attempt, a conflict whose
 * resolver strategy fails until a gate opens (the bus's `<topic>.dlq`), an outbox row the bus refuses.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@concord/outbox/testing';
import type { TestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ServiceProcess, eventually, freePort } from '../../../test/e2e/support/processes.js';
import { concord, jsonLines } from './support.js';

let dir: string;
let gate: string;
let database: TestDatabase;
let concordProcess: ServiceProcess;
let url: string;
const env = () => ({ CONCORD_URL: url });

/** A resolver strategy that fails (a plain, retryable error) while the gate file exists. */
const extension = (gateFile: string) => `import { existsSync } from 'node:fs';
export default {
  strategies: [{
    name: 'gated',
    compile: () => ({
      name: 'gated',
      resolve(conflict) {
        if (existsSync(${JSON.stringify(gateFile)})) throw new Error('the gate is closed');
        const fields = {};
        const choices = [];
        for (const field of conflict.overlappingFields) {
          fields[field] = conflict.event.data[field];
          choices.push({ field, source: 'remote', value: fields[field], reason: 'the gate is open' });
        }
        return { decision: 'resolved', strategy: 'gated', fields, choices, reasons: [] };
      },
    }),
  }],
};
`;

const POLICY = `version: '1.0'
name: dead-letters
settings: { default_fallback: last_write_wins }
rules:
  - name: gated
    conditions: { aggregate_types: [gate] }
    resolution: { strategy: gated }
`;

const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.status, body: (await response.json()) as any };
};

/** A dead letter as the API lists it (the fields the tests read). */
interface Letter {
  readonly kind: string;
  readonly id: string;
  readonly attempts: number;
  readonly error: string;
  readonly [field: string]: unknown;
}

const deadLetters = async (kind: string): Promise<Letter[]> =>
  (await api('GET', `/v1/dead-letters?kind=${kind}`)).body.deadLetters as Letter[];

/** The one dead letter of a kind, once there is one. */
const theDeadLetter = (kind: string): Promise<Letter> =>
  eventually(
    async () => {
      const letters = await deadLetters(kind);
      return letters.length === 1 ? letters[0] : undefined;
    },
    { what: `the ${kind} dead letter` },
  );

const publish = (events: object[]) => api('POST', '/v1/events', { events });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'concord-dead-letters-'));
  gate = join(dir, 'gate-closed');
  writeFileSync(join(dir, 'gated.mjs'), extension(gate));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  database = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false, max: 2 });
  concordProcess = new ServiceProcess({
    service: 'all-in-one',
    label: `cli-dead-letters-${database.name}`,
    port: await freePort(),
    env: {
      DATABASE_URL: database.url ?? '',
      BROKER: 'memory',
      CONCORD_POLICY: join(dir, 'policy.yaml'),
      CONCORD_EXTENSIONS: join(dir, 'gated.mjs'),
      NOTIFIER_ALLOW_PRIVATE_URLS: 'true',
      NOTIFIER_MAX_ATTEMPTS: '2',
      NOTIFIER_BACKOFF_INITIAL_MS: '50',
      NOTIFIER_BACKOFF_MAX_MS: '200',
      SHUTDOWN_GRACE_MS: '5000',
    },
  });
  await concordProcess.start();
  url = concordProcess.url;
}, 120_000);

afterAll(async () => {
  const code = await concordProcess?.stop();
  await database?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  expect(code).toBe(0);
});

describe('webhook dead letters', () => {
  let receiver: Server;
  let failing = true;
  const requests: { id: string; status: number }[] = [];

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const status = failing ? 500 : 204;
        requests.push({ id: String(request.headers['webhook-id']), status });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it('a delivery that used up its attempts is listed, replayed with its webhook-id, and arrives once', async () => {
    const { port } = receiver.address() as AddressInfo;
    const subscription = await api('POST', '/v1/subscriptions', {
      url: `http://127.0.0.1:${port}/hook`,
      secret: 'a-webhook-secret-for-tests',
      filter: { aggregateTypes: ['hook'], topics: ['concord.events.outcome'] },
    });
    expect(subscription.status).toBe(201);
    await publish([
      { id: 'h1', type: 'HookSet', aggregateType: 'hook', aggregateId: 'hook-1', data: { a: 1 } },
    ]);
    const letter = await theDeadLetter('webhook');
    expect(letter).toMatchObject({ kind: 'webhook', attempts: 2, subscriptionId: subscription.body.id });
    expect(requests).toEqual([
      { id: letter.id, status: 500 },
      { id: letter.id, status: 500 },
    ]);

    const list = await concord(['dead-letters', 'list', '--kind', 'webhook'], { env: env() });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`webhook:${letter.id} `);
    expect(list.stdout).toContain(`subscription=${subscription.body.id as string}`);

    failing = false;
    const replay = await concord(['dead-letters', 'replay', `webhook:${letter.id}`], { env: env() });
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`replayed webhook:${letter.id}`);
    expect(replay.stdout).toContain('1 replayed, 0 missing, 0 refused');
    await eventually(() => (requests.some((r) => r.status === 204) ? true : undefined), {
      what: 'the replayed delivery',
    });
    expect(await deadLetters('webhook')).toEqual([]);
    const again = await concord(['dead-letters', 'replay', `webhook:${letter.id}`], { env: env() });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`missing webhook:${letter.id}`);
    // Delivered by the replay's first attempt (recorded once the receiver's answer is in), and only then.
    const delivered = await eventually(
      async () => {
        const { rows } = await database.db.query<{ status: string; attempts: number }>(
          `SELECT status, attempts FROM concord.notifier_deliveries WHERE id = $1`,
          [letter.id],
        );
        return rows[0]?.status === 'delivered' ? rows : undefined;
      },
      { what: 'the delivery recorded' },
    );
    expect(delivered).toEqual([{ status: 'delivered', attempts: 1 }]);
    expect(requests.filter((r) => r.status === 204)).toEqual([{ id: letter.id, status: 204 }]);
  });
});

describe('bus dead letters', () => {
  it('a conflict the resolver gave up on is listed with its group and decided once when replayed', async () => {
    writeFileSync(gate, '');
    await publish([
      { id: 'g1', type: 'GateSet', aggregateType: 'gate', aggregateId: 'gate-1', data: { v: 'a' } },
    ]);
    const edit = (id: string, origin: string, v: string) => ({
      id,
      type: 'GateSet',
      aggregateType: 'gate',
      aggregateId: 'gate-1',
      baseVersion: 1,
      origin,
      data: { v },
    });
    const { results } = (await publish([edit('g2', 'phone', 'b'), edit('g3', 'laptop', 'c')])).body as {
      results: { outcome: string }[];
    };
    expect(results.map((r) => r.outcome)).toEqual(['applied', 'conflict']);
    const letter = await theDeadLetter('bus');
    expect(letter).toMatchObject({ group: 'resolver', topic: 'concord.conflicts.detected', key: 'gate-1' });
    expect(letter.error).toBe('the gate is closed');
    expect((await api('GET', '/v1/events/g3')).body.outcome).toBe('conflict');

    const list = await concord(['dead-letters', 'list', '--group', 'resolver', '--json'], { env: env() });
    expect(list.code).toBe(0);
    expect(jsonLines(list.stdout)).toEqual([{ kind: 'bus', deadLetters: [letter], next: null }]);

    unlinkSync(gate);
    const replay = await concord(['dead-letters', 'replay', '--all', '--kind', 'bus', '--json'], {
      env: env(),
    });
    expect(replay.code).toBe(0);
    expect(jsonLines(replay.stdout)).toEqual([
      { replayed: [{ kind: 'bus', id: letter.id }], missing: [], refused: [] },
    ]);
    const event = await eventually(
      async () => {
        const { body } = await api('GET', '/v1/events/g3');
        return body.outcome === 'resolved' ? (body as { decision: unknown }) : undefined;
      },
      { what: 'the conflict decided' },
    );
    const { conflicts } = (await api('GET', '/v1/conflicts?status=resolved')).body as {
      conflicts: { aggregateId: string }[];
    };
    expect(conflicts.filter((c) => c.aggregateId === 'gate-1')).toHaveLength(1);
    expect(event.decision).toMatchObject({ strategy: 'gated' });
    // The projection follows the decision's applied message.
    await eventually(
      async () => ((await api('GET', '/v1/aggregates/gate/gate-1')).body.version === 3 ? true : undefined),
      { what: 'the decision projected' },
    );
    expect((await api('GET', '/v1/aggregates/gate/gate-1')).body.fields).toEqual({ v: 'c' });
    expect(await deadLetters('bus')).toEqual([]);
  });
});

describe('outbox dead letters', () => {
  it('a row the bus refused is listed, replayed once fixed, and its message handled once', async () => {
    const outcome = {
      kind: 'outcome',
      eventId: 'ob-event',
      aggregateType: 'note',
      aggregateId: 'note-ob',
      outcome: 'applied',
      final: true,
      version: 1,
    };
    // A header that is not a string: the bus refuses the message for good, the relay dead-letters it.
    await database.db.query(
      `INSERT INTO concord.outbox (message_id, topic, key, headers, payload)
       VALUES ('ob-1', 'concord.events.outcome', 'ob-event', '{"x-retry": 1}', convert_to($1, 'UTF8'))`,
      [JSON.stringify(outcome)],
    );
    const letter = await theDeadLetter('outbox');
    expect(letter).toMatchObject({
      messageId: 'ob-1',
      topic: 'concord.events.outcome',
      errorCode: 'CONCORD_BUS_INVALID_MESSAGE',
    });
    const list = await concord(['dead-letters', 'list'], { env: env() });
    expect(list.stdout).toContain(`outbox:${letter.id} `);

    // The operator corrects the row, then replays it.
    await database.db.query(`UPDATE concord.outbox_dead_letters SET headers = '{"x-retry": "1"}'`);
    const replay = await concord(['dead-letters', 'replay', '--kind', 'outbox', letter.id, '--json'], {
      env: env(),
    });
    expect(replay.code).toBe(0);
    expect(jsonLines(replay.stdout)).toEqual([
      { replayed: [{ kind: 'outbox', id: letter.id }], missing: [], refused: [] },
    ]);
    const logged = async () =>
      (
        await database.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM concord.notifier_log WHERE message_id = 'ob-1'`,
        )
      ).rows[0]?.n;
    await eventually(async () => ((await logged()) === 1 ? true : undefined), { what: 'ob-1 handled' });
    expect(await deadLetters('outbox')).toEqual([]);
  });
});

describe('usage', () => {
  it('ids or --all, known kinds, filters of the kind', async () => {
    const neither = await concord(['dead-letters', 'replay'], { env: env() });
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('takes ids or --all');
    const bare = await concord(['dead-letters', 'replay', '42'], { env: env() });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('<kind>:<id>');
    const none = await concord(['dead-letters', 'list', '--kind', 'outbox', '--error-code', 'CONCORD_NONE'], {
      env: env(),
    });
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('no dead letters (outbox)');
    const kind = await concord(['dead-letters', 'list', '--kind', 'mail'], { env: env() });
    expect(kind.code).toBe(2);
    const foreign = await concord(['dead-letters', 'list', '--kind', 'outbox', '--group', 'x'], {
      env: env(),
    });
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toContain('--group does not apply to outbox dead letters');
    const missing = await concord(['dead-letters', 'replay', 'outbox:999999', '--json'], { env: env() });
    expect(missing.code).toBe(1);
    expect(jsonLines(missing.stdout)).toEqual([
      { replayed: [], missing: [{ kind: 'outbox', id: '999999' }], refused: [] },
    ]);
  });
});
