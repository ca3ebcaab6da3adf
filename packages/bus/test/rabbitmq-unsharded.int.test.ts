import { describeBusContract } from '@concord/bus/testing';
import { inject } from 'vitest';
import { rabbitContract } from './support/rabbitmq.js';

// One shard: the bus publishes to and consumes only the lanes `<group>.<topic>`, as before shards.
describeBusContract(rabbitContract(inject('AMQP_URL'), { shards: 1 }));
