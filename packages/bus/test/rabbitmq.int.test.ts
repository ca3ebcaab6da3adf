import { createRabbitMqBus, RABBITMQ_FEATURES } from '@concord/bus';
import { describeBusContract } from '@concord/bus/testing';
import { inject } from 'vitest';

const url = inject('AMQP_URL');

describeBusContract({
  name: 'rabbitmq',
  features: RABBITMQ_FEATURES,
  create: ({ namespace, maxMessageBytes, drainTimeoutMs }) =>
    createRabbitMqBus({ url, exchange: `concord.test.${namespace}`, maxMessageBytes, drainTimeoutMs }),
});
