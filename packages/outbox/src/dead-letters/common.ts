import { ConcordError } from '@concord/core';
import { outboxErrors } from '../errors.js';

/** What a listing or a bulk replay of outbox or bus dead letters is narrowed to; every part optional. */
export interface DeadLetterFilter {
  /** The topic the message was for (not `<topic>.dlq`). */
  readonly topic?: string;
  /** The consumer group that gave up on it (bus dead letters only). */
  readonly group?: string;
  /** The last error's code. */
  readonly errorCode?: string;
  /** Dead-lettered at or before this instant (ISO 8601). */
  readonly before?: string;
}

export interface DeadLetterListOptions {
  /** 1 to 1,000. */
  readonly limit: number;
  /** The `next` of the previous page. */
  readonly after?: string;
  readonly filter?: DeadLetterFilter;
}

/** One page of dead letters, oldest first; `next` continues after the last one, null on the last page. */
export interface DeadLetterPage<T> {
  readonly deadLetters: T[];
  readonly next: string | null;
}

/** What a replay of named dead letters did: replayed now, or not there (never was, or replayed already). */
export interface ReplayByIdResult {
  readonly replayed: string[];
  readonly missing: string[];
}

/** What a replay of the dead letters matching a filter did; `more` when as many as the limit went. */
export interface ReplayMatchingResult {
  readonly replayed: string[];
  readonly more: boolean;
}

/** Both stores' ids are `bigint` identities, written as decimal text. */
const ID = /^[1-9]\d{0,18}$/;
const MAX_ID = 2n ** 63n - 1n;

export const isRowId = (id: string): boolean => ID.test(id) && BigInt(id) <= MAX_ID;

/** The id a page's cursor names (the last row of the page before), or `CONCORD_INVALID_CURSOR`. */
export const cursorId = (cursor: string | undefined): string => {
  if (cursor === undefined || cursor === '') return '0';
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isRowId(id)) {
    throw new ConcordError(
      outboxErrors.INVALID_CURSOR,
      'The dead-letter cursor is not one this server issued',
      {
        details: { cursor },
      },
    );
  }
  return id;
};

export const cursorOf = (id: string): string => Buffer.from(id).toString('base64url');

/** The next page's cursor: after the last row when the page is full. */
export const nextCursor = (ids: readonly string[], limit: number): string | null => {
  const last = ids.at(-1);
  return ids.length === limit && last !== undefined ? cursorOf(last) : null;
};

/** Ids as the statements take them: the well-formed ones (others name no row). */
export const rowIds = (ids: readonly string[]): string[] => [...new Set(ids.filter(isRowId))];

export const missingOf = (ids: readonly string[], replayed: readonly string[]): string[] => {
  const done = new Set(replayed);
  return [...new Set(ids)].filter((id) => !done.has(id));
};
