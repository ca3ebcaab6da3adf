import { ConcordError, isPlainObject } from '@concord/core';
import { isUnstorableText } from '@concord/core/envelope';
import { serviceKitErrors } from '../errors.js';
import { DEAD_LETTER_KINDS } from './types.js';
import type { DeadLetterFilter, DeadLetterFilterName, DeadLetterKind } from './types.js';

const LIMIT = { fallback: 100, max: 1000 } as const;
const FILTERS: readonly DeadLetterFilterName[] = ['topic', 'group', 'subscriptionId', 'errorCode', 'before'];
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export const invalid = (message: string): ConcordError =>
  new ConcordError(serviceKitErrors.REQUEST_INVALID, message);

export const kindOf = (raw: unknown): DeadLetterKind => {
  if (typeof raw === 'string' && (DEAD_LETTER_KINDS as readonly string[]).includes(raw)) {
    return raw as DeadLetterKind;
  }
  throw invalid(`kind must be one of ${DEAD_LETTER_KINDS.join(', ')}`);
};

/** `limit` as a query parameter (text) or body member (number): 1 to 1,000, default 100. */
export const limitOf = (raw: unknown): number => {
  if (raw === undefined) return LIMIT.fallback;
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(Number.isInteger(value) && value >= 1 && value <= LIMIT.max)) {
    throw invalid(`limit must be an integer from 1 to ${LIMIT.max}`);
  }
  return value;
};

const textOf = (name: string, raw: unknown): string => {
  if (typeof raw !== 'string' || raw === '' || raw.length > 500) {
    throw invalid(`${name} must be a string of 1 to 500 characters`);
  }
  if (isUnstorableText(raw)) throw invalid(`${name} holds U+0000 or an unpaired surrogate`);
  return raw;
};

/** The filter parts of a query or body, each checked, and only those the source understands. */
export const filterOf = (
  input: Readonly<Record<string, unknown>>,
  understood: readonly DeadLetterFilterName[],
  kind: DeadLetterKind,
): DeadLetterFilter => {
  const filter: Record<string, string> = {};
  for (const name of FILTERS) {
    const raw = input[name];
    if (raw === undefined) continue;
    if (!understood.includes(name)) throw invalid(`${name} does not apply to ${kind} dead letters`);
    const value = textOf(name, raw);
    if (name === 'before') {
      if (!ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
        throw invalid('before must be an ISO 8601 instant, e.g. 2030-01-31T12:00:00Z');
      }
      filter[name] = new Date(value).toISOString();
    } else {
      filter[name] = value;
    }
  }
  return filter;
};

export const cursorOf = (raw: unknown): string | undefined => {
  if (raw === undefined || raw === '') return undefined;
  return textOf('after', raw);
};

/** The body of a bulk replay: named ids, or a filter with a limit (an empty body: every dead letter). */
export type ReplayRequest =
  { readonly ids: string[] } | { readonly filter: DeadLetterFilter; readonly limit: number };

export const replayRequestOf = (
  body: unknown,
  understood: readonly DeadLetterFilterName[],
  kind: DeadLetterKind,
): ReplayRequest => {
  const input = body === undefined || body === null || body === '' ? {} : body;
  if (!isPlainObject(input)) throw invalid('the body must be a JSON object');
  for (const name of Object.keys(input)) {
    if (name !== 'ids' && name !== 'limit' && !FILTERS.includes(name as DeadLetterFilterName)) {
      throw invalid(`unknown member ${JSON.stringify(name)}`);
    }
  }
  const { ids } = input;
  if (ids === undefined) return { filter: filterOf(input, understood, kind), limit: limitOf(input['limit']) };
  if (Object.keys(input).length > 1) throw invalid('ids goes alone: replay named dead letters or a filter');
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > LIMIT.max) {
    throw invalid(`ids must be an array of 1 to ${LIMIT.max} ids`);
  }
  return { ids: ids.map((id) => textOf('each id', id)) };
};
