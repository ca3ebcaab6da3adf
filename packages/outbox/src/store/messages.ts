import { toConflict } from '@concord/core/conflict';
import { MessageIds, Topics, isFinalOutcome } from '@concord/core/messages';
import type { AppliedMessage, ConflictDetectedMessage, OutcomeMessage } from '@concord/core/messages';
import type { OutboxMessage } from '../outbox/writer.js';
import type { AppendedEvent } from './types.js';

const encoder = new TextEncoder();
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

const stringMetadata = (metadata: Readonly<Record<string, unknown>> | undefined) => {
  if (metadata === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) if (typeof value === 'string') out[key] = value;
  return out;
};

/**
 * The messages DESIGN §4 has ingest publish for an appended event: its outcome on
 * `concord.events.outcome` (key: event id), an `applied` change on `concord.events.applied` and a
 * conflict on `concord.conflicts.detected` (key: aggregate id). Message ids are derived from the
 * event id, so a re-append never produces new ones. Duplicates produce nothing.
 */
export const defaultMessages = ({
  event,
  classification,
  result,
  state,
  at,
}: AppendedEvent): OutboxMessage[] => {
  if (result.outcome === 'duplicate') return [];
  const headers = { 'correlation-id': event.id, 'causation-id': event.id };
  const messages: OutboxMessage[] = [];
  if (classification.outcome === 'applied' || classification.outcome === 'merged') {
    const metadata = stringMetadata(event.metadata);
    const applied: AppliedMessage = {
      kind: 'applied',
      eventId: event.id,
      eventType: event.type,
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      outcome: classification.outcome,
      version: classification.version,
      changes: event.data,
      state: { fields: state.fields, fieldVersions: state.fieldVersions, vector: state.vector },
      committedAt: at,
      ...(metadata === undefined ? {} : { metadata }),
      ...(event.origin === undefined ? {} : { origin: event.origin }),
      ...(event.hlc === undefined ? {} : { hlc: event.hlc }),
    };
    messages.push({
      topic: Topics.applied,
      key: event.aggregateId,
      id: MessageIds.applied(event.id),
      payload: json(applied),
      headers,
    });
  }
  if (classification.outcome === 'conflict') {
    const detected: ConflictDetectedMessage = {
      kind: 'conflict_detected',
      conflict: toConflict({ id: event.id, event, details: classification.details }),
      detectedAt: at,
    };
    messages.push({
      topic: Topics.conflictDetected,
      key: event.aggregateId,
      id: MessageIds.conflict(event.id),
      payload: json(detected),
      headers,
    });
  }
  const outcome: OutcomeMessage = {
    kind: 'outcome',
    eventId: event.id,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    outcome: result.outcome,
    final: isFinalOutcome(result.outcome),
    ...(result.version === undefined ? {} : { version: result.version }),
    ...(result.conflictId === undefined ? {} : { conflictId: result.conflictId }),
    ...(result.error === undefined ? {} : { error: result.error }),
  };
  messages.push({
    topic: Topics.outcome,
    key: event.id,
    id: MessageIds.outcome(event.id, result.outcome),
    payload: json(outcome),
    headers,
  });
  return messages;
};
