import { inject } from 'vitest';
import { describeScenario } from './support/run.js';
import { startServices } from './support/stack.js';

const deps = () => ({
  DATABASE_URL: inject('DATABASE_URL'),
  AMQP_URL: inject('AMQP_URL'),
  KAFKA_BROKERS: inject('KAFKA_BROKERS'),
  REDIS_URL: inject('REDIS_URL'),
});

describeScenario('four standalone services over RabbitMQ: the scenario converges exactly', () =>
  startServices('rabbitmq', deps()),
);
