import { ConcordError } from '@concord/core';
import { busErrors } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON payloads on every topic, UTF-8 encoded. */
export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** Decodes a JSON payload; malformed bytes are a non-retryable `CONCORD_MESSAGE_MALFORMED`. */
export const decodeJson = (payload: Uint8Array): unknown => {
  try {
    return JSON.parse(decoder.decode(payload)) as unknown;
  } catch (cause) {
    throw new ConcordError(busErrors.MESSAGE_MALFORMED, 'message payload is not UTF-8 JSON', { cause });
  }
};
