import { ConcordError, isPlainObject } from '@concord/core';
import type { JsonValue } from '@concord/core';
import type { Conflict } from '@concord/core/conflict';
import type { FieldChoice, StrategyResult } from '@concord/core/strategy';
import { storageProblem } from './storable.js';
import { resolverErrors } from './errors.js';

/** What a person picked for one field: the aggregate's value, the event's, or a value of their own. */
export type FieldPick =
  | { readonly kind: 'local' }
  | { readonly kind: 'remote' }
  | { readonly kind: 'value'; readonly value: JsonValue };

/**
 * A human decision: `{ "choose": "local" | "remote", "userId": "u1", "note"?: "…" }`, or per field
 * `{ "fields": { "price": "remote", "title": { "value": "Agreed title" } }, "userId": "u1" }`; with both,
 * `choose` covers the fields `fields` does not name.
 */
export interface HumanDecision {
  readonly choose?: 'local' | 'remote';
  readonly fields: Readonly<Record<string, FieldPick>>;
  readonly userId: string;
  readonly note?: string;
}

interface Problem {
  readonly path: string;
  readonly message: string;
}

const invalid = (problems: readonly Problem[]): ConcordError =>
  new ConcordError(
    resolverErrors.DECISION_INVALID,
    `invalid decision: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    { details: { problems } },
  );

/**
 * Validates a decision body, reporting every problem (`CONCORD_DECISION_INVALID`), among them text
 * Postgres cannot store (U+0000, an unpaired surrogate) anywhere in it.
 */
export const parseHumanDecision = (body: unknown): HumanDecision => {
  if (!isPlainObject(body)) throw invalid([{ path: '', message: 'must be a JSON object' }]);
  const problems: Problem[] = [];
  for (const key of Object.keys(body)) {
    if (!['choose', 'fields', 'userId', 'note'].includes(key))
      problems.push({ path: key, message: 'unknown key' });
  }
  const { choose, userId, note } = body;
  if (choose !== undefined && choose !== 'local' && choose !== 'remote')
    problems.push({ path: 'choose', message: 'must be "local" or "remote"' });
  if (typeof userId !== 'string' || userId.trim() === '' || userId.length > 200)
    problems.push({ path: 'userId', message: 'is required: a non-empty string of at most 200 characters' });
  if (note !== undefined && (typeof note !== 'string' || note.length > 2000))
    problems.push({ path: 'note', message: 'must be a string of at most 2000 characters' });
  const fields: Record<string, FieldPick> = {};
  if (body['fields'] !== undefined) {
    if (!isPlainObject(body['fields'])) {
      problems.push({
        path: 'fields',
        message: 'must be an object of field → "local" | "remote" | { value }',
      });
    } else {
      for (const [field, pick] of Object.entries(body['fields'])) {
        const parsed = parsePick(pick);
        if (parsed === undefined)
          problems.push({ path: `fields.${field}`, message: 'must be "local", "remote" or { "value": … }' });
        else fields[field] = parsed;
      }
    }
  }
  if (choose === undefined && body['fields'] === undefined)
    problems.push({ path: '', message: 'give "choose" or "fields"' });
  const unstorable = storageProblem(body);
  if (unstorable !== undefined) problems.push(unstorable);
  if (problems.length > 0) throw invalid(problems);
  return {
    ...(choose === 'local' || choose === 'remote' ? { choose } : {}),
    fields,
    userId: userId as string,
    ...(typeof note === 'string' ? { note } : {}),
  };
};

const parsePick = (pick: unknown): FieldPick | undefined => {
  if (pick === 'local' || pick === 'remote') return { kind: pick };
  if (isPlainObject(pick) && Object.keys(pick).length === 1 && 'value' in pick && pick['value'] !== undefined)
    return { kind: 'value', value: pick['value'] as JsonValue };
  return undefined;
};

/**
 * The decision as a strategy result over the conflict's overlapping fields. Names of fields the
 * conflict does not have fail with `CONCORD_DECISION_UNKNOWN_FIELD`; fields left without a pick (no
 * `choose`) with `CONCORD_DECISION_INCOMPLETE`.
 */
export const humanResult = (conflict: Conflict, decision: HumanDecision): StrategyResult => {
  const overlapping = new Set(conflict.overlappingFields);
  const unknown = Object.keys(decision.fields).filter((field) => !overlapping.has(field));
  if (unknown.length > 0) {
    throw new ConcordError(
      resolverErrors.DECISION_UNKNOWN_FIELD,
      `not fields of this conflict: ${unknown.join(', ')} (conflicting fields: ${conflict.overlappingFields.join(', ')})`,
      { details: { unknown, fields: conflict.overlappingFields } },
    );
  }
  const missing = conflict.overlappingFields.filter(
    (field) => decision.fields[field] === undefined && decision.choose === undefined,
  );
  if (missing.length > 0) {
    throw new ConcordError(resolverErrors.DECISION_INCOMPLETE, `no decision for: ${missing.join(', ')}`, {
      details: { missing },
    });
  }
  const values: Record<string, JsonValue | undefined> = {};
  const choices: FieldChoice[] = [];
  for (const field of conflict.overlappingFields) {
    const pick: FieldPick = decision.fields[field] ?? { kind: decision.choose ?? 'local' };
    const by = `chosen by ${decision.userId}`;
    const choice: FieldChoice =
      pick.kind === 'local'
        ? { field, source: 'local', value: conflict.local[field]?.value, reason: `${by}: current value` }
        : pick.kind === 'remote'
          ? { field, source: 'remote', value: conflict.event.data[field], reason: `${by}: incoming value` }
          : { field, source: 'merged', value: pick.value, reason: `${by}: value given` };
    values[field] = choice.value;
    choices.push(choice);
  }
  return {
    decision: 'resolved',
    strategy: 'manual_review',
    fields: values,
    choices,
    reasons: [
      `decided by ${decision.userId}`,
      ...(decision.note === undefined ? [] : [`note: ${decision.note}`]),
    ],
  };
};
