import { readFileSync } from 'node:fs';
import { ingestEnvSchema } from '@concord/ingest';
import { notifierEnvSchema } from '@concord/notifier';
import { projectorEnv } from '@concord/projector';
import { resolverEnvSchema } from '@concord/resolver';
import { describe, expect, it } from 'vitest';
import { allInOneEnvSchema } from '../src/config.js';

/** The variables a schema reads (through a transform's input, where the schema has one). */
const variables = (schema: unknown): string[] => {
  const object = (schema as { in?: unknown }).in ?? schema;
  return Object.keys((object as { shape: Record<string, unknown> }).shape);
};

const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
const listed = new Set([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));

describe('.env.example', () => {
  it.each([
    ['all-in-one', allInOneEnvSchema],
    ['ingest', ingestEnvSchema],
    ['resolver', resolverEnvSchema],
    ['projector', projectorEnv],
    ['notifier', notifierEnvSchema],
  ])('lists every variable the %s reads', (_service, schema) => {
    const names = variables(schema);
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !listed.has(name))).toEqual([]);
  });
});
