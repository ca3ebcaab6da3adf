import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, getOptional, postJson } from './support/http.js';
import { ServiceProcess, eventually, freePort } from './support/processes.js';
import { SCENARIO_POLICY } from './support/stack.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * Every limit of DESIGN §2 at its value exactly, through every hop of the embedded all-in-one process:
 * ids of 200 characters through conflict, resolution, projection and notification; an aggregate whose
 * applied message is exactly as large as a message may carry, and one byte more.
 */
const MAX_ID = 200;
/** DESIGN §2: the largest payload of a message Concord derives (1,000,000 − 16 KiB). */
const MAX_PAYLOAD_BYTES = 1_000_000 - 16 * 1024;

/** A distinct id of exactly 200 characters. */
const longId = (name: string): string => `${name}-`.padEnd(MAX_ID, name.slice(0, 1));

interface Result {
  readonly id: string;
  readonly outcome: string;
  readonly version?: number;
  readonly error?: { readonly code: string; readonly message: string };
}
interface Aggregate {
  readonly version: number;
  readonly fields: Record<string, unknown>;
}
interface Notification {
  readonly kind: string;
  readonly messageId: string;
  readonly eventId?: string;
}

describe('limits, exactly, through every hop of the embedded process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-limits-'));
  const receiver = new WebhookReceiver('limits-secret');
  let service: ServiceProcess;
  let url: string;

  const submit = async (...events: object[]): Promise<Result[]> =>
    (await postJson<{ results: Result[] }>(`${url}/v1/events`, { events })).results;
  const aggregate = (type: string, id: string) =>
    getOptional<Aggregate>(`${url}/v1/aggregates/${type}/${encodeURIComponent(id)}`);
  const atVersion = (type: string, id: string, version: number) =>
    eventually(
      async () => {
        const found = await aggregate(type, id);
        return found !== undefined && found.version >= version ? found : undefined;
      },
      { what: `${type}/${id.slice(0, 12)}… projected at version ${version}`, timeoutMs: 60_000 },
    );
  const notified = (messageId: string) =>
    eventually(() => receiver.received.find((r) => (r.body as Notification).messageId === messageId), {
      what: `a notification of ${messageId.slice(0, 12)}…${messageId.slice(MAX_ID)}`,
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    await receiver.start();
    service = new ServiceProcess({
      service: 'all-in-one',
      label: 'limits',
      port: await freePort(),
      env: {
        CONCORD_DATA_DIR: dataDir,
        CONCORD_POLICY: SCENARIO_POLICY,
        NOTIFIER_ALLOW_PRIVATE_URLS: 'true',
        LOG_LEVEL: 'warn',
        SHUTDOWN_GRACE_MS: '5000',
      },
    });
    await service.start();
    url = service.url;
    await postJson(`${url}/v1/subscriptions`, { url: receiver.url, secret: receiver.secret });
  });

  afterAll(async () => {
    const code = await service.stop();
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  describe('200-character ids', () => {
    const order = longId('order');
    const created = longId('o1');
    const changed = longId('o2');
    const task = longId('task');
    const first = longId('t1');
    const second = longId('t2');

    it('a conflict held for review applies provisionally, is projected and notified (…:provisional:applied:projected)', async () => {
      const base = { type: 'OrderUpdated', aggregateType: 'order', aggregateId: order };
      expect(await submit({ ...base, id: created, data: { amount: 10, currency: 'EUR' } })).toMatchObject([
        { outcome: 'applied', version: 1 },
      ]);
      // Written without seeing version 1: a conflict on amount, which the policy sends to review with a
      // provisional first-write-wins value; the event's other field applies provisionally meanwhile.
      const data = { amount: 12, note: 'rush' };
      expect(await submit({ ...base, id: changed, baseVersion: 0, data })).toMatchObject([
        { outcome: 'conflict' },
      ]);
      await eventually(
        async () => {
          const stored = await getJson<{ outcome: string }>(
            `${url}/v1/events/${encodeURIComponent(changed)}`,
          );
          return stored.outcome === 'pending_review' ? stored : undefined;
        },
        { what: 'the review', timeoutMs: 60_000 },
      );
      expect((await atVersion('order', order, 2)).fields).toMatchObject({ amount: 10, note: 'rush' });
      const longest = `${changed}:provisional:applied:projected`;
      expect(longest).toHaveLength(230);
      await notified(longest);
      await notified(`${changed}:outcome:pending_review`);
      await notified(`${changed}:pending_review`);
    });

    it('a conflict resolved by the policy is applied, projected and notified (…:resolution:applied:projected)', async () => {
      const base = { type: 'TaskUpdated', aggregateType: 'task', aggregateId: task };
      expect(await submit({ ...base, id: first, data: { title: 'one' } })).toMatchObject([
        { outcome: 'applied' },
      ]);
      expect(await submit({ ...base, id: second, baseVersion: 0, data: { title: 'two' } })).toMatchObject([
        { outcome: 'conflict' },
      ]);
      await atVersion('task', task, 2);
      await notified(`${second}:resolution:applied:projected`);
      await notified(`${second}:outcome:resolved`);
      await notified(`${second}:resolved`);
      await notified(`${first}:applied:projected`);
    });

    it('an id of 201 characters is refused per event with a stable code', async () => {
      const results = await submit({
        id: `${longId('x')}x`,
        type: 'T',
        aggregateType: 'task',
        aggregateId: 'x',
        data: {},
      });
      expect(results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'CONCORD_EVENT_ID_TOO_LONG' } });
    });
  });

  describe('the largest aggregate: applied messages of exactly the largest payload', () => {
    const id = 'big-1';
    const base = { type: 'BlobSet', aggregateType: 'blob', aggregateId: id };
    const blob = (char: string) => char.repeat(245_000);
    // Applied messages carry the aggregate's whole state: three fields of 245 KB leave room for one
    // more event whose metadata (carried once, unlike data, which is in the changes and the state)
    // brings its applied message to the limit.
    const padded = (eventId: string, pad: number) => ({
      ...base,
      id: eventId,
      data: { last: 'z' },
      metadata: { pad: 'p'.repeat(pad) },
    });
    let overBy = 0;

    it('builds the state in three events, each within the limit', async () => {
      for (const [i, char] of ['a', 'b', 'c'].entries()) {
        expect(await submit({ ...base, id: `big-${i}`, data: { [char]: blob(char) } })).toMatchObject([
          { outcome: 'applied', version: i + 1 },
        ]);
      }
      await atVersion('blob', id, 3);
    });

    it('rejects an event whose applied message would be too large, with CONCORD_AGGREGATE_TOO_LARGE', async () => {
      const [result] = await submit(padded('pad-a', 250_000));
      expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'CONCORD_AGGREGATE_TOO_LARGE' } });
      const size = Number(/would be (\d+) bytes/.exec(result?.error?.message ?? '')?.[1]);
      overBy = size - MAX_PAYLOAD_BYTES;
      expect(overBy).toBeGreaterThan(0);
    });

    it('rejects it one byte over the limit', async () => {
      const [result] = await submit(padded('pad-b', 250_000 - overBy + 1));
      expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'CONCORD_AGGREGATE_TOO_LARGE' } });
      expect(result?.error?.message).toContain(`would be ${MAX_PAYLOAD_BYTES + 1} bytes`);
      expect((await aggregate('blob', id))?.version).toBe(3);
    });

    it('applies, projects and notifies it exactly at the limit', async () => {
      expect(await submit(padded('pad-c', 250_000 - overBy))).toMatchObject([
        { outcome: 'applied', version: 4 },
      ]);
      const projected = await atVersion('blob', id, 4);
      expect(projected.fields['last']).toBe('z');
      await notified('pad-c:applied:projected');
    });

    it('rejects a resolution whose messages would be too large, with CONCORD_AGGREGATE_TOO_LARGE', async () => {
      // The policy merges task tags additively: two sides of 255 KB each resolve to 510 KB, which the
      // applied message carries twice (changes and state) and the resolved message twice (fields, choices).
      const tagged = { type: 'TaskTagged', aggregateType: 'task', aggregateId: 'big-tags' };
      const tags = (side: string) => Array.from({ length: 2_500 }, (_, i) => `${side}-${i}`.padEnd(100, '.'));
      expect(await submit({ ...tagged, id: 'tags-1', data: { tags: tags('l') } })).toMatchObject([
        { outcome: 'applied', version: 1 },
      ]);
      expect(
        await submit({ ...tagged, id: 'tags-2', baseVersion: 0, data: { tags: tags('r') } }),
      ).toMatchObject([{ outcome: 'conflict' }]);
      const settled = await eventually(
        async () => {
          const stored = await getJson<{ outcome: string; details: { error?: { code: string } } }>(
            `${url}/v1/events/tags-2`,
          );
          return stored.outcome === 'conflict' ? undefined : stored;
        },
        { what: 'the resolution', timeoutMs: 60_000 },
      );
      expect(settled).toMatchObject({
        outcome: 'rejected',
        details: { error: { code: 'CONCORD_AGGREGATE_TOO_LARGE' } },
      });
      await notified('tags-2:outcome:rejected');
      await notified('tags-2:rejected');
      expect((await aggregate('task', 'big-tags'))?.version).toBe(1);
    });

    it('keeps the aggregate writable: an event that shrinks the state applies', async () => {
      expect(await submit({ ...base, id: 'shrink', data: { a: '' } })).toMatchObject([
        { outcome: 'applied', version: 5 },
      ]);
      await atVersion('blob', id, 5);
    });
  });
});
