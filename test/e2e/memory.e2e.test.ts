import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOptional } from './support/http.js';
import { ServiceProcess, eventually, freePort } from './support/processes.js';

/** DESIGN §5 / ingest README: the default largest `POST /v1/events` body, and the largest event (§2). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_EVENT_BYTES = 256 * 1024;
const MiB = 1024 * 1024;
/**
 * The all-in-one README's bound: the largest accepted request raises the process's peak RSS by at most
 * 80 MiB per MiB of body (measured about 50), from intake to projection, over the RSS it had before.
 */
const PEAK_RSS_PER_BODY_MIB = 80 * MiB;

/** A field of `/proc/<pid>/status` in bytes (VmRSS, VmHWM: the peak since the last reset). */
const status = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no ${field} for process ${pid}`);
  return Number(match[1]) * 1024;
};

/** One event whose JSON form is exactly `bytes` long. */
const eventOf = (index: number, bytes: number): string => {
  const id = `mem-${String(index).padStart(2, '0')}`;
  const shell = JSON.stringify({ id, type: 'T', aggregateType: 'task', aggregateId: id, data: { blob: '' } });
  return shell.replace('"blob":""', `"blob":"${'x'.repeat(bytes - shell.length)}"`);
};

/** The largest request the defaults accept: a body of exactly MAX_BODY_BYTES, of maximal events. */
const largestBody = (): string => {
  const count = Math.ceil(MAX_BODY_BYTES / MAX_EVENT_BYTES);
  const frame = '{"events":[]}'.length + (count - 1);
  const events = Array.from({ length: count }, (_, i) =>
    eventOf(i, i < count - 1 ? MAX_EVENT_BYTES : MAX_BODY_BYTES - frame - (count - 1) * MAX_EVENT_BYTES),
  );
  return `{"events":[${events.join(',')}]}`;
};

const post = async (url: string, body: string) => {
  const response = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/**
 * The status of a POST whose body the server may refuse before it has all of it: the answer can come
 * while the body is still being sent, and the server then closes the connection under the upload.
 */
const statusOfUpload = (url: string, body: string): Promise<number> =>
  new Promise((resolve, reject) => {
    let answered = false;
    const upload = request(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    upload.on('response', (response) => {
      answered = true;
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    upload.on('error', (error) => {
      if (!answered) reject(error);
    });
    upload.end(body);
  });

describe('the embedded all-in-one process: bounded memory per request', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-memory-'));
  let service: ServiceProcess;
  let pid: number;

  beforeAll(async () => {
    service = new ServiceProcess({
      service: 'all-in-one',
      label: 'memory',
      port: await freePort(),
      env: { CONCORD_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '5000' },
    });
    await service.start();
    pid = service.pid ?? 0;
  });

  afterAll(async () => {
    const code = await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it('takes the largest accepted request within the documented peak RSS per MiB of body', async () => {
    // A small request first, so what is measured is the body's cost, not the first request's warm-up.
    const warm = await post(service.url, JSON.stringify({ events: [JSON.parse(eventOf(99, 1024))] }));
    expect(warm.status).toBe(200);
    await eventually(() => getOptional(`${service.url}/v1/aggregates/task/mem-99`), { what: 'warm-up' });

    const body = largestBody();
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    const before = status(pid, 'VmRSS');
    const { status: code, body: answer } = await post(service.url, body);
    expect(code).toBe(200);
    const results = answer['results'] as { outcome: string }[];
    expect(results.map((r) => r.outcome)).toEqual(results.map(() => 'applied'));
    const last = `mem-${String(results.length - 1).padStart(2, '0')}`;
    await eventually(() => getOptional(`${service.url}/v1/aggregates/task/${last}`), { what: 'projection' });

    const growth = status(pid, 'VmHWM') - before;
    const perMiB = growth / (MAX_BODY_BYTES / MiB);
    console.log(
      `peak RSS +${(growth / MiB).toFixed(1)} MiB for a ${MAX_BODY_BYTES / MiB} MiB body: ` +
        `${(perMiB / MiB).toFixed(1)} MiB per MiB (bound ${PEAK_RSS_PER_BODY_MIB / MiB})`,
    );
    expect(perMiB).toBeLessThanOrEqual(PEAK_RSS_PER_BODY_MIB);
  });

  it('answers 413 CONCORD_BODY_TOO_LARGE one byte over the limit, and to a 58 MB body, and lives', async () => {
    const over = `${largestBody().slice(0, -2)} ]}`;
    expect(Buffer.byteLength(over)).toBe(MAX_BODY_BYTES + 1);
    const answer = await post(service.url, over);
    expect(answer).toMatchObject({ status: 413, body: { error: { code: 'CONCORD_BODY_TOO_LARGE' } } });

    // The campaign's request that took the process down: 240 events of 250 KB.
    const huge = `{"events":[${Array.from({ length: 240 }, (_, i) => eventOf(100 + i, 250_000)).join(',')}]}`;
    expect(await statusOfUpload(service.url, huge)).toBe(413);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });
});
