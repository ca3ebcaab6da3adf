import { usageError } from '../errors.js';
import type { CliIo } from '../io.js';

export interface BrokerTarget {
  readonly broker: 'rabbitmq' | 'kafka';
  /** AMQP URL or Kafka bootstrap servers (comma-separated). */
  readonly address: string;
  readonly exchange: string;
  readonly topicPrefix: string;
}

/** The broker target of `--broker`, its address from flags or the services' variables. */
export const brokerTarget = (
  broker: string,
  values: { address?: string | undefined; exchange?: string | undefined; prefix?: string | undefined },
  env: CliIo['env'],
): BrokerTarget => {
  if (broker !== 'rabbitmq' && broker !== 'kafka') throw usageError('--broker must be rabbitmq or kafka');
  const address = values.address ?? (broker === 'rabbitmq' ? env.AMQP_URL : env.KAFKA_BROKERS);
  if (address === undefined || address === '') {
    throw usageError(
      `--broker ${broker} needs --broker-url or ${broker === 'rabbitmq' ? 'AMQP_URL' : 'KAFKA_BROKERS'}`,
    );
  }
  return {
    broker,
    address,
    exchange: values.exchange ?? (env.AMQP_EXCHANGE || 'concord'),
    topicPrefix: values.prefix ?? env.CONCORD_TOPIC_PREFIX ?? '',
  };
};
