import { describeBusContract } from '@concord/bus/testing';
import { inject } from 'vitest';
import { kafkaContract } from './kafka-support.js';

describeBusContract(kafkaContract(inject('KAFKA_BROKERS')));
