import { describeBusContract } from '@concord/bus/testing';
import { inject } from 'vitest';
import { createKafkaBus, KAFKA_FEATURES } from '../src/kafka/index.js';

const brokers = inject('KAFKA_BROKERS');

describeBusContract({
  name: 'kafka',
  features: KAFKA_FEATURES,
  create: ({ maxMessageBytes, drainTimeoutMs }) =>
    createKafkaBus({ brokers, clientId: 'concord-contract', partitions: 3, maxMessageBytes, drainTimeoutMs }),
});
