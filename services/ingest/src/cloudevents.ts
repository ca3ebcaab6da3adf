import { ConcordError, coreErrors } from '@concord/core';
import { isCloudEvent, validateCloudEvent, validateEvent } from '@concord/core/envelope';
import type { EnvelopeLimits } from '@concord/core/envelope';
import { itemOf, parseBatch, parseSubmit } from './intake.js';
import type { IntakeItem } from './intake.js';

/** Structured mode: one CloudEvent as the body (CloudEvents HTTP binding §3.2). */
export const CLOUDEVENT_TYPE = 'application/cloudevents+json';
/** Batched mode: a JSON array of CloudEvents as the body (CloudEvents HTTP binding §3.3). */
export const CLOUDEVENT_BATCH_TYPE = 'application/cloudevents-batch+json';

/**
 * Where a binding carries a binary-mode event's attributes: header names with a prefix, the content type
 * in its own header, and whether values are percent-encoded.
 */
interface Binding {
  readonly prefixes: readonly string[];
  readonly contentType: string;
  readonly percentEncoded: boolean;
}

/** HTTP: `ce-<attribute>` headers, percent-encoded values; `Content-Type` is `datacontenttype`. */
const HTTP_BINDING: Binding = { prefixes: ['ce-'], contentType: 'content-type', percentEncoded: true };

/**
 * The broker bindings: Kafka's `ce_<attribute>` headers and `content-type` header; AMQP's application
 * properties `cloudEvents:<attribute>`, or `cloudEvents_<attribute>` (the form for protocols that refuse
 * `:` in names), which RabbitMQ carries as message headers.
 */
const BUS_BINDING: Binding = {
  prefixes: ['ce_', 'cloudevents:', 'cloudevents_'],
  contentType: 'content-type',
  percentEncoded: false,
};

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

const headerValue = (value: string | readonly string[] | undefined): string | undefined =>
  typeof value === 'string' ? value : value?.[value.length - 1];

const percentDecoded = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // not percent-encoded after all: the value as sent, which validation judges
  }
};

/**
 * A binary-mode event as the structured-mode object core validates: its attributes from the binding's
 * headers (names lowercased), `datacontenttype` from the content type, the body as `data`. Undefined
 * when no header names a `specversion`, so the message is not binary mode.
 */
const binaryCloudEvent = (
  headers: Headers,
  data: unknown,
  binding: Binding,
): Record<string, unknown> | undefined => {
  const attributes: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(headers)) {
    const value = headerValue(raw);
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const prefix = binding.prefixes.find((p) => lower.startsWith(p) && lower.length > p.length);
    if (prefix === undefined) continue;
    attributes[lower.slice(prefix.length)] = binding.percentEncoded ? percentDecoded(value) : value;
  }
  if (!('specversion' in attributes)) return undefined;
  const contentType = headerValue(headers[binding.contentType]);
  if (contentType !== undefined && !('datacontenttype' in attributes))
    attributes['datacontenttype'] = contentType;
  return { ...attributes, data };
};

const mediaType = (contentType: string | undefined): string =>
  (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

/**
 * The events of a `POST /v1/events` body, by CloudEvents HTTP mode: structured (`application/cloudevents+json`,
 * or a lone object with `specversion` sent as `application/json`), batched
 * (`application/cloudevents-batch+json`: a JSON array), binary (`ce-*` headers, the body is `data`), or
 * else a Concord batch. Each event is validated on its own, as a batch's are.
 */
export const parseHttpSubmission = (
  request: { readonly body: unknown; readonly headers: Headers },
  limits: Partial<EnvelopeLimits>,
): IntakeItem[] => {
  const { body, headers } = request;
  const type = mediaType(headerValue(headers['content-type']));
  if (type === CLOUDEVENT_TYPE) return [itemOf(body, validateCloudEvent(body, limits))];
  if (type === CLOUDEVENT_BATCH_TYPE) {
    if (!Array.isArray(body)) {
      throw new ConcordError(
        coreErrors.BATCH_INVALID,
        `a ${CLOUDEVENT_BATCH_TYPE} body must be a JSON array`,
      );
    }
    // Every member is judged as a CloudEvent: one without `specversion` is rejected as one, never read
    // as a Concord envelope.
    const events: unknown[] = body;
    return parseBatch(events, limits).map((item, i) =>
      isCloudEvent(events[i]) ? item : itemOf(events[i], validateCloudEvent(events[i], limits)),
    );
  }
  const binary = binaryCloudEvent(headers, body, HTTP_BINDING);
  if (binary !== undefined) return [itemOf(binary, validateCloudEvent(binary, limits))];
  if (isCloudEvent(body)) return [itemOf(body, validateEvent(body, limits))];
  return parseBatch(body, limits);
};

/**
 * The events of a `concord.events.submit` message: a binary-mode CloudEvent when its headers carry the
 * Kafka or AMQP binding's `specversion`, else the payload as {@link parseSubmit} reads it.
 */
export const parseSubmitMessage = (
  message: { readonly payload: unknown; readonly headers: Headers },
  limits: Partial<EnvelopeLimits>,
): IntakeItem[] => {
  const binary = binaryCloudEvent(message.headers, message.payload, BUS_BINDING);
  return binary === undefined
    ? parseSubmit(message.payload, limits)
    : [itemOf(binary, validateCloudEvent(binary, limits))];
};
