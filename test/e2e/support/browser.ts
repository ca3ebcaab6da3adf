import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';

export const launchChromium = async (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser tests need Debian's chromium (apt-get install chromium)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
};

/** Builds the client bundle the example app loads (examples/build.mjs), as `pnpm start` does. */
export const buildExamples = (): void => {
  const run = spawnSync(process.execPath, ['examples/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`examples/build.mjs failed: ${run.stderr}`);
};

/** An HS256 JWT for a test secret, valid for an hour. */
export const signJwt = (secret: string, claims: Record<string, unknown>): string => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ ...claims, iat, exp: iat + 3600 })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
};

/** What the example app shows of one task. */
export interface ShownTask {
  readonly title: string;
  readonly tags: readonly string[];
  readonly badge: string;
  readonly state: string;
}

/** The example task app (examples/tasks) in a browser context of its own: its own IndexedDB, its own origin id. */
export class TaskApp {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  static async open(browser: Browser, base: string, token: string): Promise<TaskApp> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/examples/tasks/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#settings summary');
    await page.fill('#token', token);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#status[data-online="true"]');
    return new TaskApp(context, page);
  }

  /** Adds a task through the form; resolves with its id. */
  async add(title: string): Promise<string> {
    const before = new Set(await this.ids());
    await this.page.fill('#new-title', title);
    await this.page.click('#new-task button[type="submit"]');
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const added = (await this.ids()).find((id) => !before.has(id));
      if (added !== undefined) return added;
      await this.page.waitForTimeout(50);
    }
    throw new Error(`the task "${title}" was not listed`);
  }

  async ids(): Promise<string[]> {
    const items = this.page.locator('#tasks li');
    const ids: string[] = [];
    for (let i = 0; i < (await items.count()); i++) {
      ids.push((await items.nth(i).getAttribute('data-task-id')) ?? '');
    }
    return ids;
  }

  private item(id: string) {
    return this.page.locator(`#tasks li[data-task-id="${id}"]`);
  }

  /** The task as shown, or undefined while it is not listed. */
  async task(id: string): Promise<ShownTask | undefined> {
    const item = this.item(id);
    if ((await item.count()) === 0) return undefined;
    return {
      title: await item.locator('.title').inputValue(),
      tags: await item.locator('.tag').allTextContents(),
      badge: (await item.locator('.badge').textContent()) ?? '',
      state: (await item.getAttribute('data-state')) ?? '',
    };
  }

  async addTag(id: string, tag: string): Promise<void> {
    const input = this.item(id).locator('.add-tag');
    await input.fill(tag);
    await input.press('Enter');
  }

  async setTitle(id: string, title: string): Promise<void> {
    const input = this.item(id).locator('.title');
    await input.fill(title);
    await input.press('Enter');
  }

  /** Changes queued in this browser (the status line's count). */
  async pending(): Promise<number> {
    return Number(await this.page.getAttribute('#status', 'data-pending'));
  }

  setOffline(offline: boolean): Promise<void> {
    return this.context.setOffline(offline);
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

/** One field of a review card: the values side by side. */
export interface ShownField {
  readonly field: string;
  readonly current: string;
  readonly incoming: string;
  readonly provisional: string;
}

/** The review console (`/console/`) in a browser context of its own. */
export class ReviewConsole {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  static async open(browser: Browser, base: string, token: string): Promise<ReviewConsole> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/console`);
    await page.fill('#token', token);
    await page.click('#settings button[type="submit"]');
    return new ReviewConsole(context, page);
  }

  /** The status line: live over the stream, or polling. */
  async live(): Promise<string> {
    return (await this.page.locator('#live').textContent()) ?? '';
  }

  async emptyShown(): Promise<boolean> {
    return this.page.locator('#empty').isVisible();
  }

  private card(aggregateId: string) {
    return this.page.locator('article.review', {
      has: this.page.locator('h2', { hasText: aggregateId }),
    });
  }

  /** The card of the aggregate's review, or undefined while none is shown. */
  async review(
    aggregateId: string,
  ): Promise<{ conflictId: string; text: string; fields: ShownField[] } | undefined> {
    const card = this.card(aggregateId);
    if ((await card.count()) === 0) return undefined;
    const rows = card.locator('tr[data-field]');
    const fields: ShownField[] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const row = rows.nth(i);
      fields.push({
        field: (await row.getAttribute('data-field')) ?? '',
        current: (await row.locator('td.local pre').textContent()) ?? '',
        incoming: (await row.locator('td.remote pre').textContent()) ?? '',
        provisional: (await row.locator('td.provisional').textContent()) ?? '',
      });
    }
    return {
      conflictId: (await card.getAttribute('data-conflict-id')) ?? '',
      text: (await card.textContent()) ?? '',
      fields,
    };
  }

  /** Counts the elements of a kind inside the aggregate's card (what an injected tag would add). */
  countInCard(aggregateId: string, selector: string): Promise<number> {
    return this.card(aggregateId).locator(selector).count();
  }

  /** Decides one field with a value of the person's own (JSON text), with a note. */
  async decideValue(aggregateId: string, field: string, json: string, note: string): Promise<void> {
    const card = this.card(aggregateId);
    const row = card.locator(`tr[data-field="${field}"]`);
    await row.locator('input[type="radio"][value="value"]').check();
    await row.locator('textarea').fill(json);
    await card.locator('input[name="note"]').fill(note);
    await card.locator('button[type="submit"]').click();
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
