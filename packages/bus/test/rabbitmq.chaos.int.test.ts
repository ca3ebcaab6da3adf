import { describeBusRestartContract } from '@concord/bus/testing';
import { inject } from 'vitest';
import { rabbitContract, restartRabbitMq } from './support/rabbitmq.js';

// Stops and starts the shared RabbitMQ (rabbitmqctl stop_app / start_app): chaos tier, run serially.
describeBusRestartContract({ ...rabbitContract(inject('AMQP_URL')), restartBroker: () => restartRabbitMq() });
