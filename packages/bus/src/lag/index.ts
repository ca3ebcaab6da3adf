import type { BusConfig } from '../brokers.js';
import { kafkaLagProbe } from './kafka.js';
import { rabbitMqLagProbe } from './rabbitmq.js';
import type { ConsumerLagProbe, GroupTopic } from './types.js';

export { kafkaLagProbe } from './kafka.js';
export type { KafkaLagOptions } from './kafka.js';
export { rabbitMqLagProbe } from './rabbitmq.js';
export type { RabbitMqLagOptions } from './rabbitmq.js';
export type { ConsumerLagProbe, GroupLag, GroupTopic } from './types.js';

/**
 * The lag probe for the broker a bus configuration names; undefined for the memory bus (its groups
 * live in the process, with nothing to ask).
 */
export const createConsumerLagProbe = (
  config: BusConfig,
  options: { readonly prefix?: string; readonly consumers: readonly GroupTopic[] },
): ConsumerLagProbe | undefined => {
  const prefix = options.prefix ?? '';
  if (config.broker === 'rabbitmq')
    return rabbitMqLagProbe({
      url: config.url,
      prefix,
      consumers: options.consumers,
      ...(config.shards === undefined ? {} : { shards: config.shards }),
    });
  if (config.broker === 'kafka') {
    return kafkaLagProbe({
      brokers: config.brokers,
      clientId: `${config.clientId ?? 'concord'}-lag-probe`,
      prefix,
      consumers: options.consumers,
    });
  }
  return undefined;
};
