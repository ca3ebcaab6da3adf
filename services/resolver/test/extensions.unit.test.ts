import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@concord/core';
import { loadPolicy } from '@concord/core/policy';
import type { Conflict } from '@concord/core/conflict';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extensionList, loadExtensions } from '../src/extensions.js';
import { openPolicySource } from '../src/policy/source.js';

/** The documented example (docs/extensions.md), loaded as users load it. */
const EXAMPLE = fileURLToPath(new URL('../../../docs/examples/extension.mjs', import.meta.url));

const conflict = (metadata: Record<string, string>): Conflict => ({
  id: 'c1',
  event: {
    id: 'e2',
    type: 'ProductUpdated',
    aggregateType: 'product',
    aggregateId: 'p1',
    data: { description: 'a much longer description' },
    metadata,
  },
  relation: 'stale_base',
  currentVersion: 2,
  baseVersion: 1,
  changedFields: ['description'],
  concurrentFields: ['description'],
  overlappingFields: ['description'],
  local: { description: { value: 'short', version: 2, eventId: 'e1' } },
});

const POLICY = `
name: extended
rules:
  - name: erp-descriptions
    conditions: { custom_match: { metadata_equals: "source=erp" } }
    resolution: { strategy: longest_text }
settings: { default_fallback: first_write_wins }
`;

describe('extensions (CONCORD_EXTENSIONS)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-extensions-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads the variable as a comma-separated list', () => {
    expect(extensionList(undefined)).toEqual([]);
    expect(extensionList(' ./a.mjs, ,b ')).toEqual(['./a.mjs', 'b']);
  });

  it('registers the documented example: its strategy and its custom_match spec decide', async () => {
    const { registry, specs, modules } = await loadExtensions(
      [relative(process.cwd(), EXAMPLE)].map((p) => `./${p}`),
    );
    expect(modules).toHaveLength(1);
    const result = loadPolicy(POLICY, { registry, specs });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.policy.decide(conflict({ source: 'erp' }))).toMatchObject({
      rule: 'erp-descriptions',
      strategy: 'longest_text',
      result: { fields: { description: 'a much longer description' } },
    });
    expect(result.policy.decide(conflict({ source: 'mobile' }))).toMatchObject({
      via: 'default_fallback',
      result: { fields: { description: 'short' } },
    });
  });

  it('hands both to the policy source, whose file may then name them', async () => {
    const file = join(dir, 'policy.yaml');
    await writeFile(file, POLICY);
    const { registry, specs } = await loadExtensions([EXAMPLE]);
    const source = await openPolicySource({ path: file, logger: silentLogger, registry, specs });
    expect(source.current().name).toBe('extended');
    await source.close();
    await expect(openPolicySource({ path: file, logger: silentLogger })).rejects.toMatchObject({
      code: 'CONCORD_POLICY_INVALID',
      message: expect.stringContaining('unknown custom_match spec "metadata_equals"') as string,
    });
  });

  it('fails the start with CONCORD_EXTENSION_INVALID naming the module', async () => {
    const shapeless = join(dir, 'shapeless.mjs');
    await writeFile(shapeless, 'export default 42;\n');
    const twice = join(dir, 'twice.mjs');
    await writeFile(twice, `export { default } from ${JSON.stringify(EXAMPLE)};\n`);
    const functional = join(dir, 'functional.mjs');
    await writeFile(functional, 'export default async () => ({ specs: { always: () => () => true } });\n');

    await expect(loadExtensions([join(dir, 'missing.mjs')])).rejects.toMatchObject({
      code: 'CONCORD_EXTENSION_INVALID',
      message: expect.stringContaining('missing.mjs: cannot be imported') as string,
    });
    await expect(loadExtensions([shapeless])).rejects.toMatchObject({
      code: 'CONCORD_EXTENSION_INVALID',
      message: expect.stringContaining('shapeless.mjs') as string,
    });
    await expect(loadExtensions([EXAMPLE, twice])).rejects.toMatchObject({
      code: 'CONCORD_EXTENSION_INVALID',
      message: expect.stringContaining('cannot register strategy "longest_text"') as string,
    });
    expect((await loadExtensions([functional])).specs.has('always')).toBe(true);
  });
});
