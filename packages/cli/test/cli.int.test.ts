/**
 * `concord` end to end: every command as its own process against one embedded Concord (the all-in-one
 * on PGlite in a temp folder, the scenario policy), in the order a user meets them: help, publish,
 * look at what happened, tail, decide a review, check and dry-run policies, migrate a database.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createTestDatabase } from '@concord/outbox/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { COMMANDS, runCli } from '../src/index.js';
import type { CliIo } from '../src/index.js';
import { startEmbedded } from '../../../test/e2e/support/stack.js';
import type { Stack } from '../../../test/e2e/support/stack.js';
import { freePort } from '../../../test/e2e/support/processes.js';
import { concord, jsonLines, startProxy } from './support.js';

let stack: Stack;
let url: string;
let dir: string;
const env = () => ({ CONCORD_URL: url });

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'concord-cli-'));
  stack = await startEmbedded();
  url = stack.urls.ingest;
}, 120_000);

afterAll(async () => {
  await stack?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('help and usage', () => {
  it('concord --help lists every command and the exit codes', async () => {
    const run = await concord(['--help']);
    expect(run.code).toBe(0);
    for (const command of COMMANDS) expect(run.stdout).toContain(command.path.join(' '));
    expect(run.stdout).toMatch(/3 {2}the server or broker could not be reached/);
  });

  it('every command has its own help (exit 0)', async () => {
    for (const command of COMMANDS) {
      const out = new PassThrough();
      let text = '';
      out.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const io: CliIo = {
        stdout: out,
        stderr: new PassThrough(),
        stdin: Readable.from([]),
        env: {},
        cwd: dir,
        now: () => 0,
        sleep: () => Promise.resolve(),
        signal: new AbortController().signal,
      };
      expect(await runCli([...command.path, '--help'], io, COMMANDS)).toBe(0);
      expect(text).toContain(`Usage: concord ${command.path.join(' ')}`);
      for (const option of Object.keys(command.options)) expect(text).toContain(`--${option}`);
    }
  });

  it('an unknown command, an unknown option or a missing argument is a usage error (exit 2)', async () => {
    const unknown = await concord(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const option = await concord(['events', 'get', 'x', '--frob'], { env: env() });
    expect(option.code).toBe(2);
    const missing = await concord(['aggregates', 'get', 'task'], { env: env() });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('takes 2 arguments');
    const group = await concord(['conflicts']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('conflicts decide');
  });

  it('a server nobody listens on is exit 3, with a JSON error under --json', async () => {
    const port = await freePort();
    const run = await concord(['events', 'get', 'e1', '--json', '--url', `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(3);
    expect(jsonLines(run.stdout)[0].error).toMatchObject({ code: 'CONCORD_CLI_UNREACHABLE', exitCode: 3 });
  });
});

describe('publish', () => {
  it('submits a JSON file in batches and summarises the outcomes (exit 0)', async () => {
    const path = file(
      'tasks.json',
      JSON.stringify({
        events: [
          {
            id: 'e1',
            type: 'TaskCreated',
            aggregateType: 'task',
            aggregateId: 'task-1',
            data: { title: 'Buy milk', status: 'open' },
          },
          {
            id: 'e2',
            type: 'TaskUpdated',
            aggregateType: 'task',
            aggregateId: 'task-1',
            baseVersion: 1,
            origin: 'phone',
            data: { title: 'Buy oat milk', tags: ['shopping'] },
          },
          {
            id: 'e3',
            type: 'TaskUpdated',
            aggregateType: 'task',
            aggregateId: 'task-1',
            baseVersion: 1,
            origin: 'laptop',
            data: { tags: ['errands'] },
          },
          {
            id: 'e4',
            type: 'TaskUpdated',
            aggregateType: 'task',
            aggregateId: 'task-1',
            baseVersion: 1,
            origin: 'laptop',
            data: { status: 'done' },
          },
        ],
      }),
    );
    const run = await concord(['publish', path, '--batch-size', '2', '--json'], { env: env() });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [summary] = jsonLines(run.stdout);
    expect(summary).toMatchObject({ via: 'http', total: 4, sent: 4, rejected: [] });
    expect(summary.outcomes).toEqual({ applied: 2, conflict: 1, merged: 1 });
  });

  it('reads NDJSON from stdin; a rejected event is named and the exit code is 1', async () => {
    const lines = [
      {
        id: 'o1',
        type: 'OrderCreated',
        aggregateType: 'order',
        aggregateId: 'order-1',
        data: { amount: 10, currency: 'EUR', status: 'pending' },
      },
      {
        id: 'o2',
        type: 'OrderUpdated',
        aggregateType: 'order',
        aggregateId: 'order-1',
        baseVersion: 1,
        origin: 'shop',
        data: { amount: 12 },
      },
      {
        id: 'o3',
        type: 'OrderUpdated',
        aggregateType: 'order',
        aggregateId: 'order-1',
        baseVersion: 1,
        origin: 'erp',
        data: { amount: 15 },
      },
      { id: 'bad-1', type: 'TaskCreated', aggregateType: 'task', data: { title: 'no aggregate id' } },
    ];
    const run = await concord(['publish', '-'], {
      env: env(),
      input: `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^4\/4 events submitted in .*: 2 applied, 1 conflict, 1 rejected/m);
    expect(run.stderr).not.toMatch(/ETA/); // stderr is no terminal: no progress line
    expect(run.stderr).toMatch(/^rejected bad-1: CONCORD_\w+/m);
  });

  it('waits out a 429 per Retry-After and retries the batch, with the bearer token of CONCORD_TOKEN', async () => {
    const proxy = await startProxy(url, (request, index) =>
      request.method === 'POST' && index === 0
        ? {
            kind: 'answer',
            status: 429,
            headers: { 'content-type': 'application/json', 'retry-after': '1' },
            body: JSON.stringify({ error: { code: 'CONCORD_OVERLOADED', message: 'busy' } }),
          }
        : { kind: 'forward' },
    );
    try {
      const started = Date.now();
      const run = await concord(['publish', '--json', '--url', proxy.url], {
        input: JSON.stringify([
          {
            id: 'r1',
            type: 'TaskCreated',
            aggregateType: 'task',
            aggregateId: 'task-r',
            data: { title: 'retry' },
          },
        ]),
        env: { CONCORD_TOKEN: 'secret-token' },
      });
      expect(run.code).toBe(0);
      expect(jsonLines(run.stdout)[0].outcomes).toEqual({ applied: 1 });
      expect(proxy.requests.map((r) => r.headers.authorization)).toEqual([
        'Bearer secret-token',
        'Bearer secret-token',
      ]);
      expect(proxy.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    } finally {
      await proxy.close();
    }
  });

  it('input that is not JSON is a usage error naming the line (exit 2)', async () => {
    const run = await concord(['publish', file('broken.ndjson', '{"id":"x"}\n{nope\n')], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('broken.ndjson:2: not a JSON line');
  });
});

describe('events, aggregates, conflicts', () => {
  it('events get shows the resolved conflict and its decision', async () => {
    await expect
      .poll(
        async () =>
          jsonLines((await concord(['events', 'get', 'e3', '--json'], { env: env() })).stdout)[0]
            ?.outcome as unknown,
        { timeout: 20_000 },
      )
      .toBe('resolved');
    const run = await concord(['events', 'get', 'e3'], { env: env() });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).decision).toMatchObject({ rule: 'task-tags-additive' });
    const missing = await concord(['events', 'get', 'nope'], { env: env() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404 CONCORD_EVENT_NOT_FOUND');
  });

  it('events feed pages through the applied events with --all', async () => {
    const run = await concord(['events', 'feed', '--limit', '2', '--all', '--json'], { env: env() });
    expect(run.code).toBe(0);
    const pages = jsonLines(run.stdout);
    expect(pages.length).toBeGreaterThan(2);
    const ids = pages.flatMap((page) => (page.events as { event: { id: string } }[]).map((e) => e.event.id));
    expect(ids).toEqual(expect.arrayContaining(['e1', 'e2', 'e4', 'o1', 'r1']));
    const text = await concord(['events', 'feed', '--limit', '1'], { env: env() });
    expect(text.stdout).toMatch(/^\S+ e1 TaskCreated task\/task-1 v1 applied$/m);
    expect(text.stderr).toMatch(/^next: \S+/m);
  });

  it('aggregates get shows the projected state', async () => {
    await expect
      .poll(
        async () =>
          jsonLines(
            (await concord(['aggregates', 'get', 'task', 'task-1', '--json'], { env: env() })).stdout,
          )[0]?.version as unknown,
        { timeout: 20_000 },
      )
      .toBe(4);
    const run = await concord(['aggregates', 'get', 'task', 'task-1'], { env: env() });
    expect(JSON.parse(run.stdout).fields).toMatchObject({ tags: ['shopping', 'errands'], status: 'done' });
  });

  it('conflicts list, show and decide settle the order in review', async () => {
    await expect
      .poll(
        async () =>
          (await concord(['conflicts', 'list', '--status', 'pending_review'], { env: env() })).stdout,
        { timeout: 20_000 },
      )
      .toMatch(/^o3 pending_review order\/order-1 payment-needs-review manual_review amount$/m);
    const show = await concord(['conflicts', 'show', 'o3', '--json'], { env: env() });
    expect(jsonLines(show.stdout)[0]).toMatchObject({ id: 'o3', status: 'pending_review' });
    const usage = await concord(['conflicts', 'decide', 'o3', '--choose', 'remote'], { env: env() });
    expect(usage.code).toBe(2);
    const decided = await concord(
      ['conflicts', 'decide', 'o3', '--choose', 'remote', '--user', 'me', '--json'],
      { env: env() },
    );
    expect(decided.code).toBe(0);
    expect(jsonLines(decided.stdout)[0]).toMatchObject({ id: 'o3', status: 'resolved' });
    const again = await concord(
      ['conflicts', 'decide', 'o3', '--fields', '{"amount":"local"}', '--user', 'me'],
      { env: env() },
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('CONCORD_CONFLICT_ALREADY_DECIDED');
    const resolved = await concord(['conflicts', 'list', '--status', 'resolved', '--json'], { env: env() });
    expect((jsonLines(resolved.stdout)[0].conflicts as { id: string }[]).map((c) => c.id)).toEqual(
      expect.arrayContaining(['e3', 'o3']),
    );
  });
});

describe('tail', () => {
  it('replays the filtered stream from the start as JSON lines', async () => {
    const run = await concord(
      [
        'tail',
        '--from',
        '0',
        '--aggregate-id',
        'task-1',
        '--outcome',
        'applied',
        '--topic',
        'concord.events.applied',
        '--count',
        '2',
        '--json',
      ],
      { env: env() },
    );
    expect(run.code).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatchObject({ event: 'applied', data: { aggregateId: 'task-1', outcome: 'applied' } });
    }
    expect(lines.map((l): unknown => l.data.eventId)).toEqual(['e1', 'e2']);
  });

  it('resumes after a dropped connection with Last-Event-ID, missing nothing', async () => {
    const proxy = await startProxy(url, (_request, index) => ({
      kind: 'forward',
      ...(index === 0 ? { dropAfterEvents: 2 } : {}),
    }));
    try {
      const full = jsonLines(
        (
          await concord(['tail', '--from', '0', '--aggregate-type', 'task', '--count', '5', '--json'], {
            env: env(),
          })
        ).stdout,
      );
      const run = await concord([
        'tail',
        '--from',
        '0',
        '--aggregate-type',
        'task',
        '--count',
        '5',
        '--reconnect',
        '50',
        '--url',
        proxy.url,
      ]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('resuming after');
      const streams = proxy.requests.filter((r) => r.url.startsWith('/v1/stream'));
      expect(streams.length).toBeGreaterThanOrEqual(2);
      expect(streams[1]?.headers['last-event-id']).toBe(full[1].id);
      expect(
        run.stdout
          .trim()
          .split('\n')
          .map((line) => line.split(' ')[0]),
      ).toEqual(full.map((l): unknown => l.id));
    } finally {
      await proxy.close();
    }
  });

  it('follows new notifications as they happen, one line each', async () => {
    const tail = concord(['tail', '--aggregate-id', 'task-live', '--count', '1'], { env: env() });
    // The stream starts at the present: publish until the tail has seen one.
    let n = 0;
    const done = { value: false };
    void tail.then(() => (done.value = true));
    while (!done.value && n < 40) {
      n += 1;
      await concord(['publish'], {
        env: env(),
        input: JSON.stringify({
          id: `live-${n}`,
          type: 'TaskCreated',
          aggregateType: 'task',
          aggregateId: 'task-live',
          baseVersion: n - 1,
          data: { n },
        }),
      });
    }
    const run = await tail;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+ \w+ task\/task-live live-\d+ /);
  });
});

describe('policy', () => {
  it('validate passes a good policy and places every problem of a bad one at line:column (exit 1)', async () => {
    const good = await concord(['policy', 'validate', 'packages/core/policies/example.yaml']);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('ok (policy concord-example');
    const bad = file(
      'bad.yaml',
      [
        "version: '1.0'",
        'name: bad',
        'rules:',
        '  - name: one',
        '    conditions: { aggregate_types: [task] }',
        '    resolution: { strategy: lastwrite }',
        '  - name: two',
        '    priority: high',
        '    resolution: { strategy: last_write_wins }',
        '    bogus: 1',
        '',
      ].join('\n'),
    );
    const run = await concord(['policy', 'validate', bad]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `${bad}:6:29: error: rules[0].resolution.strategy: unknown strategy "lastwrite"`,
    );
    expect(run.stdout).toContain(`${bad}:8:15: error: rules[1].priority:`);
    expect(run.stdout).toContain(`${bad}:10:5: error: rules[1].bogus: unknown key "bogus"`);
    const json = jsonLines((await concord(['policy', 'validate', bad, '--json'])).stdout)[0];
    expect(json.ok).toBe(false);
    expect(json.problems).toContainEqual(
      expect.objectContaining({ path: 'rules[0].resolution.strategy', line: 6, column: 29 }),
    );
    const broken = await concord(['policy', 'validate', file('broken.yaml', 'rules: [\n  - a\n')]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/broken\.yaml:\d+:\d+: error: /);
    const jsonPolicy = file(
      'bad.json',
      '{\n  "rules": [\n    { "name": "x", "resolution": { "strategy": "nope" } }\n  ]\n}\n',
    );
    const fromJson = await concord(['policy', 'validate', jsonPolicy]);
    expect(fromJson.code).toBe(1);
    expect(fromJson.stdout).toContain(`${jsonPolicy}:3:48: error: rules[0].resolution.strategy`);
  });

  it('dry-run reports what a candidate would decide differently, and places an invalid one', async () => {
    const candidate = file(
      'candidate.yaml',
      "version: '2.0'\nname: candidate\nsettings: { default_fallback: last_write_wins }\nrules:\n  - name: tags-lww\n    conditions: { aggregate_types: [task] }\n    resolution: { strategy: last_write_wins }\n",
    );
    const run = await concord(['policy', 'dry-run', candidate, '--json'], { env: env() });
    expect(run.code).toBe(0);
    const report = jsonLines(run.stdout)[0];
    expect(report.conflicts).toBeGreaterThanOrEqual(1);
    expect((report.changes as { conflictId: string }[]).map((c) => c.conflictId)).toContain('e3');
    const text = await concord(['policy', 'dry-run', candidate, '--limit', '10'], { env: env() });
    expect(text.stdout).toMatch(
      /^policy candidate 2\.0: \d+ conflict\(s\), \d+ would be decided differently/,
    );
    expect(text.stdout).toMatch(/e3: task-tags-additive\/additive_merge .*⇒ {2}tags-lww\/last_write_wins/);
    const invalid = await concord(
      [
        'policy',
        'dry-run',
        file('invalid.yaml', 'rules:\n  - name: x\n    resolution: { strategy: nope }\n'),
      ],
      { env: env() },
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(
      /invalid\.yaml:3:29: error: rules\[0\]\.resolution\.strategy: unknown strategy "nope"/,
    );
  });
});

describe('migrate', () => {
  it('migrates an empty database, then finds it current; an unreachable one is exit 3', async () => {
    const database = await createTestDatabase({ adminUrl: inject('DATABASE_URL'), migrate: false, max: 1 });
    try {
      const first = await concord(['migrate', '--json'], { env: { DATABASE_URL: database.url ?? '' } });
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const result = jsonLines(first.stdout)[0];
      expect(result.owners).toEqual(
        expect.arrayContaining(['outbox', 'store', 'resolver', 'projector', 'notifier']),
      );
      expect(result.applied.length).toBeGreaterThan(0);
      const tables = await database.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'concord'",
      );
      expect(tables.rows[0]?.n).toBeGreaterThan(5);
      const second = await concord(['migrate', '--database-url', database.url ?? '']);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/is current: \d+ migration\(s\) .*; 0 applied now/);
      const owner = await concord(['migrate', '--owner', 'nobody', '--database-url', database.url ?? '']);
      expect(owner.code).toBe(2);
    } finally {
      await database.close();
    }
    const port = await freePort();
    const down = await concord(['migrate', '--database-url', `postgres://postgres@127.0.0.1:${port}/x`]);
    expect(down.code).toBe(3);
  });
});
