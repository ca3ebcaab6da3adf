import { inject, test } from 'vitest';
import { runOn } from './support/run.js';
import { startServices } from './support/stack.js';

const deps = () => ({
  DATABASE_URL: inject('DATABASE_URL'),
  AMQP_URL: inject('AMQP_URL'),
  KAFKA_BROKERS: inject('KAFKA_BROKERS'),
  REDIS_URL: inject('REDIS_URL'),
});

test('four standalone services over RabbitMQ: the scenario converges exactly', async () => {
  await runOn(() => startServices('rabbitmq', deps()));
});
