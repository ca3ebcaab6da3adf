import { ConcordError } from '@concord/core';
import { OUTCOMES, Topics } from '@concord/core/messages';
import { compileIdPatterns, PATTERN_LIMITS } from '@concord/core/spec';
import { z } from 'zod';
import { notifierErrors } from './errors.js';

/** The topics the notifier consumes; each message on them becomes a notification. */
export const NOTIFIER_TOPICS = [
  Topics.applied,
  Topics.conflictResolved,
  Topics.projected,
  Topics.outcome,
] as const;

export type NotifierTopic = (typeof NOTIFIER_TOPICS)[number];

const values = z.array(z.string().min(1).max(500)).min(1).max(100);
const patterns = z.array(z.string().min(1).max(PATTERN_LIMITS.maxLength)).min(1).max(100);

/**
 * What a subscription or a stream wants to hear about. Entries inside one list are OR-ed, different
 * lists AND-ed; an absent list matches everything. A notification that lacks an attribute (a
 * projection has no outcome, an outcome no event type) does not match a list on that attribute.
 */
export const filterSchema = z
  .object({
    eventTypes: values.optional(),
    aggregateTypes: values.optional(),
    /**
     * Exact ids, globs (`task-*`, `note-?`) or `re:<regex>` (RE2 syntax); matched in linear time,
     * within core's `PATTERN_LIMITS` (length, globs and regexes per list, regex size).
     */
    aggregateIds: patterns.optional(),
    outcomes: z.array(z.enum(OUTCOMES)).min(1).optional(),
    topics: z.array(z.enum(NOTIFIER_TOPICS)).min(1).optional(),
  })
  .strict();

export type NotificationFilter = z.infer<typeof filterSchema>;

/** The attributes of a notification a filter looks at. */
export interface FilterSubject {
  readonly topic: string;
  readonly eventType?: string | undefined;
  readonly aggregateType?: string | undefined;
  readonly aggregateId?: string | undefined;
  readonly outcome?: string | undefined;
}

export type FilterMatcher = (subject: FilterSubject) => boolean;

const oneOf = (list: readonly string[] | undefined): ((value: string | undefined) => boolean) => {
  if (list === undefined) return () => true;
  const set = new Set(list);
  return (value) => value !== undefined && set.has(value);
};

/**
 * Compiles a validated filter once; patterns core refuses (a regex that does not compile or is too
 * large, too many globs and regexes) fail with `CONCORD_FILTER_INVALID`.
 */
export const compileFilter = (filter: NotificationFilter): FilterMatcher => {
  const eventType = oneOf(filter.eventTypes);
  const aggregateType = oneOf(filter.aggregateTypes);
  const outcome = oneOf(filter.outcomes);
  const topic = oneOf(filter.topics);
  let aggregateId: (value: string | undefined) => boolean = () => true;
  if (filter.aggregateIds !== undefined) {
    try {
      const matcher = compileIdPatterns(filter.aggregateIds);
      aggregateId = (value) => value !== undefined && matcher(value);
    } catch (error) {
      throw new ConcordError(
        notifierErrors.FILTER_INVALID,
        error instanceof ConcordError ? error.message : 'invalid aggregateIds pattern',
        { cause: error, details: [{ path: 'filter.aggregateIds', message: String(error) }] },
      );
    }
  }
  return (subject) =>
    topic(subject.topic) &&
    eventType(subject.eventType) &&
    aggregateType(subject.aggregateType) &&
    aggregateId(subject.aggregateId) &&
    outcome(subject.outcome);
};

/** Validates an unknown value as a filter (`undefined` is the match-all filter). */
export const parseFilter = (value: unknown): NotificationFilter => {
  const parsed = filterSchema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new ConcordError(notifierErrors.FILTER_INVALID, 'invalid filter', {
      details: parsed.error.issues.map((issue) => ({
        path: ['filter', ...issue.path].join('.'),
        message: issue.message,
      })),
    });
  }
  compileFilter(parsed.data);
  return parsed.data;
};

/**
 * A filter from query parameters (`?eventTypes=a,b&aggregateIds=task-*`); each parameter may repeat
 * and may hold a comma-separated list (a `re:` pattern is taken whole, commas included).
 */
export const filterFromQuery = (query: Readonly<Record<string, unknown>>): NotificationFilter => {
  const keys = ['eventTypes', 'aggregateTypes', 'aggregateIds', 'outcomes', 'topics'] as const;
  const filter: Record<string, string[]> = {};
  for (const key of keys) {
    const raw = query[key];
    if (raw === undefined) continue;
    const list = (Array.isArray(raw) ? raw : [raw])
      .flatMap((entry) => (String(entry).startsWith('re:') ? [String(entry)] : String(entry).split(',')))
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (list.length > 0) filter[key] = list;
  }
  return parseFilter(filter);
};
