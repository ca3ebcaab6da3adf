import { describeBusContract } from '@concord/bus/testing';
import { inject } from 'vitest';
import { rabbitContract } from './support/rabbitmq.js';

describeBusContract(rabbitContract(inject('AMQP_URL')));
