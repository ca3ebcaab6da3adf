import { usageError } from '../errors.js';

/**
 * The events of a publish input: one JSON document (an envelope, an array of them, or `{ "events": [...] }`)
 * or NDJSON (one envelope per line; blank lines skipped). Events are not validated here: the server
 * answers each one, a bad one with its error.
 */
export const parseEvents = (text: string, name: string): unknown[] => {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    return eventsOf(JSON.parse(trimmed) as unknown);
  } catch (whole) {
    const lines = text.split(/\r?\n/);
    // One line that is not JSON is the document's own error, not NDJSON's.
    if (lines.filter((line) => line.trim() !== '').length < 2) {
      throw usageError(`${name} is not JSON: ${(whole as Error).message}`);
    }
    return lines.flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return eventsOf(JSON.parse(line) as unknown);
      } catch (error) {
        throw usageError(`${name}:${i + 1}: not a JSON line: ${(error as Error).message}`);
      }
    });
  }
};

const eventsOf = (value: unknown): unknown[] => {
  if (Array.isArray(value)) return value as unknown[];
  if (typeof value === 'object' && value !== null && Array.isArray((value as { events?: unknown }).events)) {
    return (value as { events: unknown[] }).events;
  }
  return [value];
};

/** Splits events into batches of at most `size` events and `maxBytes` of JSON each, in order. */
export const batchesOf = (events: readonly unknown[], size: number, maxBytes: number): unknown[][] => {
  const batches: unknown[][] = [];
  let current: unknown[] = [];
  let bytes = 0;
  for (const event of events) {
    const length = Buffer.byteLength(JSON.stringify(event) ?? 'null') + 1;
    if (current.length > 0 && (current.length >= size || bytes + length > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
};

/** The id of an event as written, for reporting (an event without one is named by its position). */
export const idOf = (event: unknown, position: number): string => {
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : `#${position + 1}`;
};
