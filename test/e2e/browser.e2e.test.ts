import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildExamples, launchChromium, ReviewConsole, signJwt, TaskApp } from './support/browser.js';
import { ServiceProcess, freePort } from './support/processes.js';

const POLICY = fileURLToPath(new URL('./fixtures/browser-policy.yaml', import.meta.url));
const SECRET = 'browser-tests-secret-of-at-least-32-characters';
const WAIT = { timeout: 30_000, interval: 200 };

/**
 * In a real browser (Debian's Chromium, headless): the example task app (examples/tasks, @concord/client
 * with its IndexedDB store) in two browser contexts, one of them offline for a while, and the review
 * console, against the embedded all-in-one with authentication on. One stack, phases in order.
 */
describe.sequential('in Chromium: the example task app and the review console', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-browser-'));
  let concord: ServiceProcess;
  let browser: Browser;
  let phone: TaskApp;
  let laptop: TaskApp;
  let taskId: string;

  const appToken = (sub: string) => signJwt(SECRET, { sub, scope: 'events:read events:write' });
  const admin = signJwt(SECRET, { sub: 'checker', scope: 'admin' });
  const api = async (path: string): Promise<Record<string, unknown>> => {
    const answer = await fetch(`${concord.url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(answer.status, path).toBe(200);
    return (await answer.json()) as Record<string, unknown>;
  };
  const serverFields = async () =>
    (await api(`/v1/aggregates/task/${taskId}`))['fields'] as Record<string, unknown>;

  beforeAll(async () => {
    buildExamples();
    concord = new ServiceProcess({
      service: 'all-in-one',
      label: `browser-${Date.now()}`,
      port: await freePort(),
      env: {
        HOST: '127.0.0.1',
        CONCORD_DATA_DIR: dataDir,
        CONCORD_POLICY: POLICY,
        CONCORD_AUTH_JWT_SECRET: SECRET,
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '3000',
      },
    });
    await concord.start();
    browser = await launchChromium();
    phone = await TaskApp.open(browser, concord.url, appToken('phone-user'));
    laptop = await TaskApp.open(browser, concord.url, appToken('laptop-user'));
  });

  afterAll(async () => {
    await browser?.close();
    const code = await concord?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  test('a task added on one device shows on the other', async () => {
    taskId = await phone.add('Plan the trip');
    await expect
      .poll(() => laptop.task(taskId), WAIT)
      .toMatchObject({ title: 'Plan the trip', state: 'synced' });
    expect(await serverFields()).toMatchObject({ title: 'Plan the trip', status: 'open', tags: [] });
  });

  test('tags added on both devices, one of them offline, converge on the policy’s merge', async () => {
    await phone.setOffline(true);
    await phone.addTag(taskId, 'offline-tag');
    await expect.poll(() => phone.task(taskId), WAIT).toMatchObject({ tags: ['offline-tag'] });
    await laptop.addTag(taskId, 'online-tag');
    await expect.poll(async () => (await serverFields())['tags'], WAIT).toEqual(['online-tag']);
    // Offline, the phone still holds its change in the queue, whatever the server has.
    expect(await phone.pending()).toBe(1);
    expect((await phone.task(taskId))?.tags).toEqual(['offline-tag']);

    await phone.setOffline(false);
    // task-tags-additive: the union, on the server and on both devices, nothing left queued.
    await expect
      .poll(async () => [...((await serverFields())['tags'] as string[])].sort(), WAIT)
      .toEqual(['offline-tag', 'online-tag']);
    const merged = (await serverFields())['tags'];
    for (const app of [phone, laptop]) {
      await expect.poll(() => app.task(taskId), WAIT).toMatchObject({ tags: merged, state: 'synced' });
      await expect.poll(() => app.pending(), WAIT).toBe(0);
    }
    const conflicts = (await api('/v1/conflicts?status=resolved&limit=100'))['conflicts'] as {
      aggregateId: string;
      rule: string;
    }[];
    expect(conflicts.filter((c) => c.aggregateId === taskId).map((c) => c.rule)).toEqual([
      'task-tags-additive',
    ]);
  });

  test('a concurrent title goes to review: the console shows it live, escaped, and the decision reaches both devices', async () => {
    const reviewer = await ReviewConsole.open(
      browser,
      concord.url,
      signJwt(SECRET, { sub: 'reviewer', scope: 'events:read conflicts:decide' }),
    );
    await expect.poll(() => reviewer.live(), WAIT).toMatch(/^Live/);
    await expect.poll(() => reviewer.emptyShown(), WAIT).toBe(true);

    const hostile = '<img src=x onerror="window.__injected=1">offline title';
    await phone.setOffline(true);
    await phone.setTitle(taskId, hostile);
    await expect.poll(async () => (await phone.task(taskId))?.title, WAIT).toBe(hostile);
    await laptop.setTitle(taskId, 'Plan the trip to Lisbon');
    await expect.poll(async () => (await serverFields())['title'], WAIT).toBe('Plan the trip to Lisbon');
    await phone.setOffline(false);

    // The review arrives over the stream: the page is not reloaded.
    await expect.poll(() => reviewer.review(taskId), WAIT).toBeDefined();
    const review = await reviewer.review(taskId);
    expect(review?.fields).toHaveLength(1);
    const [title] = review?.fields ?? [];
    expect(title).toMatchObject({
      field: 'title',
      current: JSON.stringify('Plan the trip to Lisbon'),
      incoming: JSON.stringify(hostile),
    });
    // The provisional value (last write wins) is what both devices show while the review is open.
    const provisional = (await serverFields())['title'] as string;
    expect(title?.provisional).toContain(JSON.stringify(provisional));
    for (const app of [phone, laptop]) {
      await expect.poll(async () => (await app.task(taskId))?.title, WAIT).toBe(provisional);
    }
    await expect.poll(async () => (await phone.task(taskId))?.badge, WAIT).toBe('in review');
    // Shown as text, never as markup.
    expect(review?.text).toContain(JSON.stringify(hostile));
    expect(await reviewer.countInCard(taskId, 'img')).toBe(0);
    for (const page of [reviewer.page, phone.page, laptop.page]) {
      expect(await page.evaluate('window.__injected')).toBeUndefined();
    }

    await reviewer.decideValue(taskId, 'title', JSON.stringify('Plan the Lisbon trip'), 'both meant Lisbon');
    await expect.poll(() => reviewer.review(taskId), WAIT).toBeUndefined();
    await expect.poll(() => reviewer.emptyShown(), WAIT).toBe(true);
    for (const app of [phone, laptop]) {
      await expect
        .poll(() => app.task(taskId), WAIT)
        .toMatchObject({
          title: 'Plan the Lisbon trip',
          tags: (await serverFields())['tags'],
          state: 'synced',
        });
    }
    // The decision records the reviewer's token subject, not a name typed into the page.
    const decided = await api(`/v1/conflicts/${encodeURIComponent(review?.conflictId ?? '')}`);
    expect(decided).toMatchObject({ status: 'resolved' });
    expect((decided['decisions'] as { decidedBy: string; userId: string | null }[]).at(-1)).toMatchObject({
      decidedBy: 'human',
      userId: 'reviewer',
    });
    await reviewer.close();
  });
});
