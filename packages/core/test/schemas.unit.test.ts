import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadPolicy } from '@concord/core/policy';
import { validateEnvelope } from '../src/envelope/validate.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** docs/schemas: what editors and other tools check Concord's documents with. */
const schema = (name: string): object =>
  JSON.parse(readFileSync(new URL(`../../../docs/schemas/${name}`, import.meta.url), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: false });
const eventValid = ajv.compile(schema('event.schema.json'));
const policyValid = ajv.compile(schema('policy.schema.json'));

const file = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('the policy schema (docs/schemas/policy.schema.json)', () => {
  it('accepts the bundled example and go-sync-kit rule files, as the loader does', () => {
    for (const [text, format] of [
      [file('../policies/example.yaml'), 'yaml'],
      [file('./fixtures/go-sync-kit/documents.yaml'), 'yaml'],
      [file('./fixtures/go-sync-kit/showcase.json'), 'json'],
    ] as const) {
      expect(policyValid(parse(text)), JSON.stringify(policyValid.errors)).toBe(true);
      expect(
        loadPolicy(text, {
          format,
          specs: new Map([
            ['document_locked', () => () => true],
            ['priority_at_least', () => () => true],
          ]),
        }).ok,
      ).toBe(true);
    }
  });

  it.each([
    ['an unknown top-level key', 'name: p\nrule: []\n'],
    ['a rule without a name', 'rules:\n  - resolution: { strategy: lww }\n'],
    ['a rule without a resolution', 'rules:\n  - name: r\n'],
    [
      'an unknown condition',
      'rules:\n  - { name: r, conditions: { event_type: [A] }, resolution: { strategy: lww } }\n',
    ],
    [
      'a relation that does not exist',
      'rules:\n  - { name: r, conditions: { relations: [later] }, resolution: { strategy: lww } }\n',
    ],
    [
      'a side that does not exist',
      'rules:\n  - { name: r, conditions: { side: remote }, resolution: { strategy: lww } }\n',
    ],
    ['an empty list', 'rules:\n  - { name: r, conditions: { fields: [] }, resolution: { strategy: lww } }\n'],
    ['nothing to decide with', 'name: p\n'],
  ])('refuses %s, as the loader does', (_what, text) => {
    expect(policyValid(parse(text))).toBe(false);
    expect(loadPolicy(text).ok).toBe(false);
  });
});

describe('the event schema (docs/schemas/event.schema.json)', () => {
  const valid = {
    id: '0193a7c2-5d1e-7b3a-9f00-1c2d3e4f5a6b',
    type: 'TaskUpdated',
    aggregateType: 'task',
    aggregateId: 'task-42',
    baseVersion: 3,
    clock: { 'phone-a': 5 },
    hlc: '001700000000000-000000-phone-a',
    origin: 'phone-a',
    data: { title: 'Buy milk' },
    metadata: { tenant: 'acme' },
  };

  it('accepts a full envelope, as ingest does', () => {
    expect(eventValid(valid), JSON.stringify(eventValid.errors)).toBe(true);
    expect(validateEnvelope(valid).ok).toBe(true);
  });

  it.each([
    ['no type', { ...valid, type: undefined }],
    ['an id of 201 characters', { ...valid, id: 'x'.repeat(201) }],
    ['an id ending in :resolution', { ...valid, id: 'e1:resolution' }],
    ['an id ending in :provisional', { ...valid, id: 'e1:provisional' }],
    ['an id ending in :outcome', { ...valid, id: 'e1:outcome' }],
    ['an id with a trailing space', { ...valid, id: 'e1 ' }],
    ['an id with a control character', { ...valid, id: 'e\u00071' }],
    ['a negative base version', { ...valid, baseVersion: -1 }],
    ['a fractional clock entry', { ...valid, clock: { a: 1.5 } }],
    ['an HLC that is not one', { ...valid, hlc: 'yesterday' }],
    ['an unknown member', { ...valid, extra: 1 }],
    ['data that is not an object', { ...valid, data: [1] }],
    ['a member named __proto__', { ...valid, data: JSON.parse('{"__proto__": 1}') as object }],
  ])('refuses %s, as ingest does', (_what, event) => {
    const input = JSON.parse(JSON.stringify(event)) as unknown;
    expect(eventValid(input)).toBe(false);
    expect(validateEnvelope(input).ok).toBe(false);
  });

  it('agrees with ingest on generated envelopes: a valid one with one or two members changed (property)', () => {
    const text = fc.oneof(
      fc.constantFrom(
        '',
        ' ',
        'a ',
        'e:outcome',
        'e:provisional',
        'e:applied',
        '\u0001',
        'x'.repeat(200),
        'x'.repeat(201),
      ),
      fc.string({ minLength: 1, maxLength: 12 }),
    );
    const value = fc.oneof(
      text,
      fc.integer({ min: -2, max: 5 }),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -2, max: 5 }),
      fc.constant(null),
      fc.boolean(),
      fc.constantFrom('001700000000000-000000-n', '1-2-3'),
      fc.dictionary(
        fc.oneof(text, fc.constantFrom('constructor', 'prototype')),
        fc.integer({ min: -1, max: 3 }),
        {
          maxKeys: 3,
        },
      ),
      fc.array(fc.integer(), { maxLength: 2 }),
    );
    const keys = fc.constantFrom(...Object.keys(valid), 'extra');
    const change = fc.tuple(keys, fc.option(value, { nil: undefined }));
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 2 }), (changes) => {
        const event: Record<string, unknown> = { ...valid };
        for (const [key, to] of changes) event[key] = to;
        const input = JSON.parse(JSON.stringify(event)) as unknown;
        expect(eventValid(input)).toBe(validateEnvelope(input).ok);
      }),
      { numRuns: 3_000 },
    );
  });
});
