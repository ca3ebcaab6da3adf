import { decodeJson, encodeJson, busErrors } from '@concord/bus';
import { ConcordError, isPlainObject } from '@concord/core';
import { MessageIds, Topics, isFinalOutcome } from '@concord/core/messages';
import type { JsonObject } from '@concord/core';
import type { AggregateState, Conflict } from '@concord/core/conflict';
import type { DecisionRecord } from '@concord/core/decision';
import type {
  AppliedMessage,
  ConflictDetectedMessage,
  ConflictResolvedMessage,
  Outcome,
  OutcomeMessage,
} from '@concord/core/messages';
import type { AppliedResolution, OutboxMessage } from '@concord/outbox';

const malformed = (message: string): ConcordError =>
  new ConcordError(busErrors.MESSAGE_MALFORMED, `conflict message: ${message}`);

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Checks the shape of a `concord.conflicts.detected` payload (non-retryable when malformed). */
export const parseDetected = (payload: Uint8Array): ConflictDetectedMessage => {
  const message = decodeJson(payload);
  if (!isPlainObject(message) || message['kind'] !== 'conflict_detected')
    throw malformed('not conflict_detected');
  const conflict = message['conflict'];
  if (!isPlainObject(conflict) || typeof conflict['id'] !== 'string' || conflict['id'] === '')
    throw malformed('conflict.id missing');
  const event = conflict['event'];
  if (
    !isPlainObject(event) ||
    typeof event['id'] !== 'string' ||
    typeof event['type'] !== 'string' ||
    typeof event['aggregateType'] !== 'string' ||
    typeof event['aggregateId'] !== 'string' ||
    !isPlainObject(event['data'])
  )
    throw malformed('conflict.event is not an event envelope');
  if (
    !isStringArray(conflict['overlappingFields']) ||
    !isStringArray(conflict['changedFields']) ||
    !isStringArray(conflict['concurrentFields']) ||
    !isPlainObject(conflict['local']) ||
    typeof conflict['currentVersion'] !== 'number'
  )
    throw malformed('conflict details incomplete');
  return message as unknown as ConflictDetectedMessage;
};

const headersFor = (conflict: Conflict, causation: string) => ({
  'correlation-id': conflict.event.id,
  'causation-id': causation,
});

export interface SettledMessages {
  readonly conflict: Conflict;
  readonly record: DecisionRecord;
  /** The change applied by this decision, if any. */
  readonly applied: AppliedResolution | undefined;
  readonly changes: JsonObject | undefined;
  /** Aggregate version after the decision (applied or not). */
  readonly version: number | undefined;
  /** Id of what caused the decision: the detected message, the HTTP decision, the timeout. */
  readonly causation: string;
  readonly committedAt: string;
  /** The conflict's round (0 until reopened): a reopened conflict's messages get ids of their round. */
  readonly round?: number;
}

/**
 * The messages a decision publishes through the outbox: `concord.conflicts.resolved` (outcome resolved,
 * pending_review or rejected), `concord.events.applied` for a change it applied, and the event's outcome
 * on `concord.events.outcome`. Ids derive from the conflict, the outcome and the round, so a retried
 * handler writes the same ids, and a reopened conflict's later decisions are not taken for redeliveries.
 */
export const decisionMessages = (m: SettledMessages): OutboxMessage[] => {
  const { conflict, record } = m;
  const event = conflict.event;
  const headers = headersFor(conflict, m.causation);
  const messages: OutboxMessage[] = [];
  const outcome: Outcome = record.outcome;
  const resolved: ConflictResolvedMessage = {
    kind: 'conflict_resolved',
    conflictId: conflict.id,
    eventId: event.id,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    outcome: record.outcome,
    ...(m.version === undefined ? {} : { version: m.version }),
    decision: record,
  };
  messages.push({
    topic: Topics.conflictResolved,
    key: event.aggregateId,
    id: MessageIds.resolved(conflict.id, record.outcome, m.round),
    payload: encodeJson(resolved),
    headers,
  });
  if (m.applied !== undefined && m.changes !== undefined) {
    messages.push({
      topic: Topics.applied,
      key: event.aggregateId,
      id: MessageIds.applied(m.applied.eventId),
      payload: encodeJson(appliedMessage(m, m.applied.state, m.changes)),
      headers,
    });
  }
  const outcomeMessage: OutcomeMessage = {
    kind: 'outcome',
    eventId: event.id,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    outcome,
    final: isFinalOutcome(outcome),
    ...(m.version === undefined ? {} : { version: m.version }),
    conflictId: conflict.id,
    ...(record.rejection === undefined
      ? {}
      : { error: { code: record.rejection.code, message: record.rejection.reason } }),
  };
  messages.push({
    topic: Topics.outcome,
    key: event.id,
    id: MessageIds.outcome(event.id, outcome, m.round),
    payload: encodeJson(outcomeMessage),
    headers,
  });
  return messages;
};

const appliedMessage = (m: SettledMessages, state: AggregateState, changes: JsonObject): AppliedMessage => {
  const event = m.conflict.event;
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.metadata ?? {}))
    if (typeof value === 'string') metadata[key] = value;
  return {
    kind: 'applied',
    eventId: event.id,
    eventType: event.type,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    outcome: 'resolved',
    version: m.applied?.version ?? state.version,
    changes,
    state: { fields: state.fields, fieldVersions: state.fieldVersions, vector: state.vector },
    conflictId: m.conflict.id,
    ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
    ...(event.origin === undefined ? {} : { origin: event.origin }),
    ...(event.hlc === undefined ? {} : { hlc: event.hlc }),
    committedAt: m.committedAt,
  };
};
