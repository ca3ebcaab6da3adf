import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqpDefs from 'amqplib/lib/defs.js';
import type { ConsumeMessage } from 'amqplib';
import {
  LONGEST_DERIVED_SUFFIX,
  MAX_ID_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  derivedMessageIds,
} from '@concord/core/messages';
import { MAX_TENANT_LENGTH } from '@concord/core/envelope';
import { describe, expect, it } from 'vitest';
import { incomingMessage, publishOptions } from '../src/rabbitmq/codec.js';
import { assertPublishable } from '../src/validation.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Where the one definition of every derived id lives. */
const IDS_FILE = 'packages/core/src/messages/ids.ts';

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });

const workspaceSources = (): string[] =>
  ['packages', 'services'].flatMap((group) =>
    readdirSync(join(ROOT, group), { withFileTypes: true }).flatMap((member) => {
      const src = join(ROOT, group, member.name, 'src');
      try {
        return sources(src);
      } catch {
        return [];
      }
    }),
  );

const message = (id: string) => ({ id, key: 'k', payload: new Uint8Array(1) });

describe('message ids: every id derived from the longest event id fits the bus', () => {
  it('allows the longest event id plus the longest derived suffix, and not one character more', () => {
    expect(LONGEST_DERIVED_SUFFIX).toBe(':provisional:applied:projected'.length);
    expect(MAX_MESSAGE_ID_LENGTH).toBe(MAX_TENANT_LENGTH + 1 + MAX_ID_LENGTH + LONGEST_DERIVED_SUFFIX);
    expect(() => assertPublishable('t', [message('a'.repeat(MAX_MESSAGE_ID_LENGTH))], 1e6)).not.toThrow();
    expect(() => assertPublishable('t', [message('a'.repeat(MAX_MESSAGE_ID_LENGTH + 1))], 1e6)).toThrow(
      expect.objectContaining({ code: 'CONCORD_BUS_INVALID_MESSAGE' }),
    );
  });

  it('publishes every derived id of a 200-character event id', () => {
    const ids = derivedMessageIds('e'.repeat(MAX_ID_LENGTH));
    expect(ids).toContain(`${'e'.repeat(MAX_ID_LENGTH)}:provisional:applied:projected`);
    expect(() => assertPublishable('t', ids.map(message), 1e6)).not.toThrow();
  });

  it('derives message ids only through core (no id built from another by a suffix elsewhere)', () => {
    // An id of the form `${…}:suffix` built anywhere but core's ids.ts would escape the derived-id limit.
    const derivation = /\b(?:id|eventId|messageId|conflictId)\s*:\s*`[^`]*\$\{[^`]*\}:[^`]*`/g;
    const found = workspaceSources()
      .filter((path) => relative(ROOT, path) !== IDS_FILE)
      .flatMap((path) =>
        [...readFileSync(path, 'utf8').matchAll(derivation)].map((m) => `${relative(ROOT, path)}: ${m[0]}`),
      );
    expect(found).toEqual([]);
    // The scan does find derivations: it sees core's own.
    expect(readFileSync(join(ROOT, IDS_FILE), 'utf8')).toMatch(/`\$\{eventId\}:applied`/);
  });
});

describe('RabbitMQ: an id longer than an AMQP shortstr (255 bytes) travels in the message-id header', () => {
  it.each([
    ['ASCII, at the limit', 'a'.repeat(MAX_MESSAGE_ID_LENGTH)],
    ['3-byte characters', '€'.repeat(MAX_ID_LENGTH) + ':provisional:applied:projected'],
  ])('%s', (_, id) => {
    const options = publishOptions({ ...message(id), headers: {} });
    // amqplib refuses a message_id property over 255 bytes; the properties must encode.
    const encode = amqpDefs.encodeProperties as (c: number, s: number, n: number, p: object) => Buffer;
    expect(() => encode(60, 3, 0, options)).not.toThrow();
    const delivery = {
      content: Buffer.from('{}'),
      fields: { routingKey: 't' },
      properties: { ...options, headers: options.headers },
    } as unknown as ConsumeMessage;
    expect(incomingMessage(delivery).id).toBe(id);
  });
});
