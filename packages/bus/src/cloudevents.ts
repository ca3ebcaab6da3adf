import { isPlainObject } from '@concord/core';
import { decodeJson } from './json-codec.js';
import type { MessageBus, OutgoingMessage } from './port.js';

/**
 * Where a broker's CloudEvents binding puts a binary-mode event's attributes: Kafka in `ce_<name>`
 * headers, AMQP in `cloudEvents_<name>` application properties (RabbitMQ's message headers). Both take
 * `datacontenttype` from the content type (`content-type` header; on RabbitMQ the bus makes it the
 * content-type property).
 */
export type CloudEventsBinding = 'kafka' | 'amqp';

const PREFIX: Readonly<Record<CloudEventsBinding, string>> = { kafka: 'ce_', amqp: 'cloudEvents_' };

export interface CloudEventsBusOptions {
  /** CloudEvents `source`: the publishing service as a URI-reference (`/concord/ingest`). */
  readonly source: string;
  /** The topics whose messages go out as CloudEvents (names without the namespace prefix). */
  readonly topics: readonly string[];
  readonly binding: CloudEventsBinding;
  /** The clock of the `time` attribute. */
  readonly now?: () => number;
}

const text = (payload: Record<string, unknown>, field: string): string | undefined => {
  const value = payload[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

/**
 * The binding headers of one message as a binary-mode CloudEvent. The payload stays as it is — the
 * event's `data` — so every consumer reads it as before, and a CloudEvents SDK reads the event. `id` is
 * the message id, `type` `dev.concord.<kind>` (the payload's `kind`), `subject` the aggregate id (the
 * event id when there is none), `time` when it is published; extensions `eventid` and `outcome`.
 */
const attributes = (
  message: OutgoingMessage,
  options: CloudEventsBusOptions,
): Record<string, string> | undefined => {
  let payload: unknown;
  try {
    payload = decodeJson(message.payload);
  } catch {
    return undefined; // not JSON: not Concord's to describe
  }
  if (!isPlainObject(payload)) return undefined;
  const kind = text(payload, 'kind');
  const eventId = text(payload, 'eventId');
  const outcome = text(payload, 'outcome');
  const subject = text(payload, 'aggregateId') ?? eventId;
  const prefix = PREFIX[options.binding];
  const out: Record<string, string> = {
    [`${prefix}specversion`]: '1.0',
    [`${prefix}id`]: message.id,
    [`${prefix}source`]: options.source,
    [`${prefix}type`]: `dev.concord.${kind ?? 'message'}`,
    [`${prefix}time`]: new Date((options.now ?? Date.now)()).toISOString(),
    'content-type': 'application/json',
  };
  if (subject !== undefined) out[`${prefix}subject`] = subject;
  if (eventId !== undefined) out[`${prefix}eventid`] = eventId;
  if (outcome !== undefined) out[`${prefix}outcome`] = outcome;
  return out;
};

/**
 * A view of a bus that publishes the messages of `topics` as binary-mode CloudEvents of the broker's
 * binding (attributes in headers, the payload unchanged as `data`); everything else passes through.
 * Every attribute is at most a message id, an aggregate or event id (≤ 294 characters each) or a short
 * constant, well within the 16 KiB a message keeps for key, id and headers (DESIGN §2).
 */
export const cloudEventsBus = (bus: MessageBus, options: CloudEventsBusOptions): MessageBus => {
  const topics = new Set(options.topics);
  return {
    name: bus.name,
    features: bus.features,
    publish: (topic, messages) =>
      bus.publish(
        topic,
        topics.has(topic)
          ? messages.map((message) => {
              const headers = attributes(message, options);
              return headers === undefined
                ? message
                : { ...message, headers: { ...message.headers, ...headers } };
            })
          : messages,
      ),
    declare: (topology) => bus.declare(topology),
    subscribe: (subscribe) => bus.subscribe(subscribe),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
  };
};
