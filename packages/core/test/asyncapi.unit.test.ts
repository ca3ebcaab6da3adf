import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { TOPOLOGY, Topics } from '@concord/core/messages';
import type { DecisionRecord } from '@concord/core/decision';
import type {
  AppliedMessage,
  ConflictDetectedMessage,
  ConflictResolvedMessage,
  OutcomeMessage,
  ProjectedMessage,
} from '@concord/core/messages';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeConflict } from './support.js';

/** docs/asyncapi.yaml: the topics and payloads tools generate clients from. */
const doc = parse(readFileSync(new URL('../../../docs/asyncapi.yaml', import.meta.url), 'utf8')) as {
  asyncapi: string;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  components: { messages: Record<string, { payload: { $ref: string } }>; schemas: Record<string, object> };
};

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'asyncapi', components: { schemas: doc.components.schemas } });
const payloadOf = (channel: string) => {
  const message =
    Object.values(doc.channels[channel]?.messages ?? {})[0]
      ?.$ref.split('/')
      .at(-1) ?? '';
  const ref = doc.components.messages[message]?.payload.$ref ?? '';
  return ajv.compile({ $ref: `asyncapi${ref}` });
};

const committedAt = '2026-12-04T19:00:00.000Z';
const decision = {
  conflictId: 'e3',
  aggregateType: 'task',
  aggregateId: 'task-1',
  eventId: 'e3',
  conflictingEventIds: ['e2'],
  policy: { name: 'p', version: '1.0', hash: 'h' },
  via: 'rule',
  rule: 'task-tags-additive',
  strategy: 'additive_merge',
  outcome: 'resolved',
  provisional: false,
  final: true,
  fields: { tags: ['a', 'b'] },
  choices: [{ field: 'tags', source: 'merged', value: ['a', 'b'], reason: 'union' }],
  reasons: [],
  conditions: [],
  skipped: [],
  decidedBy: { kind: 'policy' },
  decidedAt: 1,
  decidedAtIso: committedAt,
} satisfies DecisionRecord;

/** One message of each kind, typed by core's payload interfaces, so the document follows the code. */
const samples: Record<string, unknown> = {
  submit: { id: 'e1', type: 'TaskCreated', aggregateType: 'task', aggregateId: 'task-1', data: {} },
  applied: {
    kind: 'applied',
    eventId: 'e1',
    eventType: 'TaskCreated',
    aggregateType: 'task',
    aggregateId: 'task-1',
    outcome: 'applied',
    version: 1,
    changes: { title: 'x' },
    state: { fields: { title: 'x' }, fieldVersions: { title: { version: 1, eventId: 'e1' } }, vector: {} },
    committedAt,
  } satisfies AppliedMessage,
  conflictDetected: {
    kind: 'conflict_detected',
    conflict: makeConflict(),
    detectedAt: committedAt,
  } satisfies ConflictDetectedMessage,
  conflictResolved: {
    kind: 'conflict_resolved',
    conflictId: 'e3',
    eventId: 'e3',
    aggregateType: 'task',
    aggregateId: 'task-1',
    outcome: 'resolved',
    version: 4,
    decision,
  } satisfies ConflictResolvedMessage,
  projected: {
    kind: 'projected',
    aggregateType: 'task',
    aggregateId: 'task-1',
    version: 4,
    eventId: 'e3',
    fields: {},
    backends: ['postgres'],
  } satisfies ProjectedMessage,
  outcome: {
    kind: 'outcome',
    eventId: 'bad-1',
    aggregateType: 'task',
    aggregateId: 'task-1',
    outcome: 'rejected',
    final: true,
    error: { code: 'CONCORD_EVENT_MISSING_FIELD', message: 'type is required' },
  } satisfies OutcomeMessage,
};

describe('the AsyncAPI document (docs/asyncapi.yaml)', () => {
  it('is AsyncAPI 3 with one channel per topic of DESIGN §4, no more, no less', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(
      Object.values(doc.channels)
        .map((c) => c.address)
        .sort(),
    ).toEqual(TOPOLOGY.map((r) => r.topic).sort());
    expect(doc.channels['submit']?.address).toBe(Topics.submit);
  });

  it.each(Object.keys(samples))('describes the %s payload core produces', (channel) => {
    const validate = payloadOf(channel);
    expect(validate(samples[channel]), JSON.stringify(validate.errors)).toBe(true);
  });

  it('refuses a payload of the wrong kind', () => {
    expect(payloadOf('outcome')(samples['projected'])).toBe(false);
    expect(payloadOf('applied')({ ...(samples['applied'] as object), outcome: 'conflict' })).toBe(false);
  });
});
