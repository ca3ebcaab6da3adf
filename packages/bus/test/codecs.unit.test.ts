import type { ConsumeMessage } from 'amqplib';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { fromKafkaMessage } from '../src/kafka/codec.js';
import { incomingMessage } from '../src/rabbitmq/codec.js';
import { KEY_HEADER } from '../src/rabbitmq/options.js';

const topic = 'concord.events.submit';

/** A RabbitMQ delivery as a foreign producer may publish it: message id and headers optional. */
const delivery = (body: string, properties: { messageId?: string; headers?: object } = {}) =>
  ({
    content: Buffer.from(body),
    fields: { routingKey: topic, deliveryTag: 1, redelivered: false, exchange: 'x', consumerTag: 't' },
    properties: { headers: properties.headers, messageId: properties.messageId },
  }) as unknown as ConsumeMessage;

const record = (offset: string, headers: KafkaMessage['headers'], key: string | null = 'k') =>
  ({
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from('{}'),
    offset,
    headers,
    timestamp: '0',
    attributes: 0,
  }) as KafkaMessage;

describe('RabbitMQ deliveries without a message id', () => {
  it('get an id derived from their content: distinct bodies distinct ids, a redelivery the same id', () => {
    const ids = ['{"id":"a"}', '{"id":"b"}', '{"id":"c"}'].map((body) => incomingMessage(delivery(body)).id);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(incomingMessage(delivery('{"id":"a"}')).id).toBe(ids[0]);
  });

  it('take an empty message id or message-id header for none', () => {
    const none = incomingMessage(delivery('{"id":"a"}')).id;
    expect(incomingMessage(delivery('{"id":"a"}', { messageId: '' })).id).toBe(none);
    expect(incomingMessage(delivery('{"id":"a"}', { headers: { 'message-id': '' } })).id).toBe(none);
    const message = incomingMessage(delivery('{"id":"a"}', { messageId: '' }));
    expect(message.headers['message-id']).toBe(none);
    expect(message.key).toBe(none);
  });

  it('keep the id and key they were published with', () => {
    const message = incomingMessage(
      delivery('{}', { messageId: 'm-1', headers: { [KEY_HEADER]: 'task-1' } }),
    );
    expect(message).toMatchObject({ id: 'm-1', key: 'task-1' });
    expect(incomingMessage(delivery('{}', { headers: { 'message-id': 'm-2' } })).id).toBe('m-2');
  });

  it('derive the id from the key as well as the body', () => {
    const a = incomingMessage(delivery('{}', { headers: { [KEY_HEADER]: 'a' } }));
    const b = incomingMessage(delivery('{}', { headers: { [KEY_HEADER]: 'b' } }));
    expect(a.id).not.toBe(b.id);
  });
});

describe('Kafka records without a message id', () => {
  const position = { topic, partition: 2 };

  it('get their position as id when the header is absent or empty', () => {
    expect(fromKafkaMessage(record('7', {}), position).id).toBe(`${topic}-2-7`);
    expect(fromKafkaMessage(record('8', { 'message-id': '' }), position).id).toBe(`${topic}-2-8`);
    expect(fromKafkaMessage(record('9', { 'message-id': 'm-1' }), position).id).toBe('m-1');
  });

  it('are keyed by their id when they have no key, so a dead letter of them can be published', () => {
    expect(fromKafkaMessage(record('7', {}, null), position).key).toBe(`${topic}-2-7`);
    expect(fromKafkaMessage(record('7', {}, ''), position).key).toBe(`${topic}-2-7`);
    expect(fromKafkaMessage(record('7', {}, 'task-1'), position).key).toBe('task-1');
  });
});
