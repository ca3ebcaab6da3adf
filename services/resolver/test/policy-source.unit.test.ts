import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@concord/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultPolicyPath, openPolicySource } from '../src/index.js';
import type { PolicySource } from '../src/index.js';
import { waitFor } from '@concord/bus/testing';

const policy = (name: string, strategy = 'last_write_wins') => `version: '1.0'
name: ${name}
settings: { default_fallback: ${strategy} }
rules:
  - name: tags
    conditions: { fields: [tags] }
    resolution: { strategy: additive_merge }
`;

/** A logger that keeps every error line. */
const recordingLogger = () => {
  const errors: Record<string, unknown>[] = [];
  const logger: Logger = {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (obj: unknown) => void errors.push(obj as Record<string, unknown>),
    fatal: () => undefined,
    child: () => logger,
  } as unknown as Logger;
  return { logger, errors };
};

describe('policy source', () => {
  let dir: string;
  let file: string;
  let source: PolicySource | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-policy-'));
    file = join(dir, 'policy.yaml');
    await writeFile(file, policy('first'));
  });
  afterEach(async () => {
    await source?.close();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the last good policy when the file turns invalid, logs every problem, and loads the next valid one', async () => {
    const { logger, errors } = recordingLogger();
    source = await openPolicySource({ path: file, logger });
    const statuses: string[] = [];
    source.onReload((status, current) => statuses.push(`${status}:${current.name}`));
    const firstHash = source.current().hash;
    expect(source.current().name).toBe('first');

    await writeFile(
      file,
      `version: '1.0'\nname: broken\nrules:\n  - name: a\n    resolution: { strategy: lastwrite }\n  - name: b\n    resolution: { strategy: nope }\n`,
    );
    const failed = await source.reload();
    expect(failed.status).toBe('failed');
    expect(failed.status === 'failed' && failed.problems.map((p) => p.path)).toEqual([
      'rules[0].resolution.strategy',
      'rules[1].resolution.strategy',
    ]);
    expect(source.current().name).toBe('first');
    expect(source.current().hash).toBe(firstHash);
    expect(source.info()).toMatchObject({ name: 'first', reloads: { ok: 0, failed: 1 } });
    expect(source.info().lastError?.problems).toHaveLength(2);
    const problemLines = errors.filter((e) => typeof e['problemPath'] === 'string');
    expect(problemLines.map((e) => e['problemPath'])).toEqual([
      'rules[0].resolution.strategy',
      'rules[1].resolution.strategy',
    ]);
    // The same invalid text is not reported again on every poll.
    expect((await source.reload()).status).toBe('unchanged');

    await writeFile(file, 'version: [unclosed');
    expect((await source.reload()).status).toBe('failed');
    expect(source.current().name).toBe('first');

    await writeFile(file, policy('second'));
    const loaded = await source.reload();
    expect(loaded.status).toBe('loaded');
    expect(source.current().name).toBe('second');
    expect(source.info()).toMatchObject({ reloads: { ok: 1, failed: 2 } });
    expect(source.info().lastError).toBeUndefined();
    expect(statuses).toEqual(['failed:first', 'failed:first', 'ok:second']);
  });

  it('keeps the policy when the file disappears', async () => {
    const { logger } = recordingLogger();
    source = await openPolicySource({ path: file, logger });
    await rm(file);
    expect((await source.reload()).status).toBe('failed');
    expect(source.current().name).toBe('first');
  });

  it('reloads on its own when the file is replaced (watch + debounce, polling fallback)', async () => {
    const { logger } = recordingLogger();
    source = await openPolicySource({ path: file, logger, pollIntervalMs: 100, debounceMs: 10 });
    source.watch();
    source.watch();
    // Replace by rename, as editors and config maps do.
    await writeFile(join(dir, 'next.yaml'), policy('renamed'));
    await rename(join(dir, 'next.yaml'), file);
    await waitFor('the renamed policy', () => source?.current().name === 'renamed');
    await writeFile(file, 'not: [valid');
    await waitFor('a failed reload', () => (source?.info().reloads.failed ?? 0) > 0);
    expect(source.current().name).toBe('renamed');
  });

  it('fails to open a missing or invalid file with CONCORD_POLICY_INVALID and every problem', async () => {
    const { logger } = recordingLogger();
    await expect(openPolicySource({ path: join(dir, 'missing.yaml'), logger })).rejects.toMatchObject({
      code: 'CONCORD_POLICY_INVALID',
    });
    await writeFile(file, `version: '1.0'\nname: x\nsettings: { default_fallback: nope }\n`);
    await expect(openPolicySource({ path: file, logger })).rejects.toMatchObject({
      code: 'CONCORD_POLICY_INVALID',
      details: { problems: [{ path: 'settings.default_fallback', message: 'unknown strategy "nope"' }] },
    });
  });

  it('loads JSON policies by extension and finds the bundled example policy', async () => {
    const { logger } = recordingLogger();
    const json = join(dir, 'policy.json');
    await writeFile(json, JSON.stringify({ version: '1.0', name: 'json-policy', rules: [] }));
    source = await openPolicySource({ path: json, logger });
    expect(source.current().name).toBe('json-policy');
    expect(existsSync(defaultPolicyPath())).toBe(true);
    const example = await openPolicySource({ path: defaultPolicyPath(), logger });
    expect(example.current().name).toBe('concord-example');
    await example.close();
  });
});
