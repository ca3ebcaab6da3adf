import { describe, expect, it } from 'vitest';
import {
  isTestExchange,
  isTestQueue,
  isTestTopic,
  selectKafka,
  selectRabbitMq,
  TEST_OBJECTS,
} from './broker-leftovers.js';

// Names as the suites create them (taken from a broker this suite had used).
const testQueues = [
  'e2e-1294e9b9.notifier.e2e-1294e9b9.concord.events.outcome.dlq',
  'e2e-0c2f557c.ingest.e2e-0c2f557c.concord.events.submit',
  'e2e-0c2f557c.projector.e2e-0c2f557c.concord.events.applied.3',
  'e2e-0c2f557c.projector.e2e-0c2f557c.concord.events.applied.3~claim',
  'e2e-0c2f557c.projector.e2e-0c2f557c.concord.events.applied~members',
  'g-mwpotevp0a1b2c3d.adapter.mwpotevp0a1b2c3d.join.0',
  'two-mwpotevp0a1b2c3d.contract.mwpotevp0a1b2c3d.fanout',
  'dlq-mwpotevp0a1b2c3d.contract.mwpotevp0a1b2c3d.poison.dlq',
  'g-mwpotevp0a1b2c3d.adapter.mwpotevp0a1b2c3d.topology.dlq',
  'g.mwpotevpjawauf.t.mwpotevpqhtjaa',
  'g.mwpohio56ql5yx.t.mwpohio5ietr73.dlq',
  'g-mwpohio56ql5yx.t.mwpohio5ietr73',
  // Left on the broker by full runs before their patterns were here.
  'reader-mxb0sddcbd70f8e1.contract.mxb0sddcbd70f8e1.deeper.dlq.dlq.dlq',
  'g.mxb0wytma023c67a.t.mxb0wytm4450b914.3',
  'g-mxb0yd41011fae9d.lag.mxb0yd41011fae9d.2',
  'g-mxb0ro5wbd69bf63.order.mxb0ro5wbd69bf63.0',
  'group-order-mxb0ygyie6e377f6.projector.group-order-mxb0ygyie6e377f6.concord.events.applied.1',
];
const testExchanges = [
  'concord-e2e-0c2f557c',
  'concord.test.mwpohii6muk926',
  'concord.test.mwpotevp0a1b2c3d',
];
const testTopics = [
  'e2e-db5e5103.concord.events.applied.dlq',
  'contract.mwpotevp0a1b2c3d.order',
  'kafka-test.mwpotevp0a1b2c3d.create.dlq',
  'kafka-chaos.mwpotevp0a1b2c3d.consume',
];

// What a deployment, a user or a benchmark of someone else names: never a test object.
const others = [
  'concord',
  'concord.events.applied',
  'concord.events.applied.dlq',
  'resolver.concord.events.applied',
  'projector.concord.events.applied.dlq',
  'projector.concord.events.applied.3',
  'projector.concord.events.applied~members',
  'amq.topic',
  '',
  'orders',
  'e2e-production.concord.events.applied',
  'e2e-1294e9b9.notifier.e2e-7ee2ddeb.concord.events.outcome',
  'e2e-1294e9b9.notifier.concord.events.outcome',
  'bench1294e9b9.notifier.bench1294e9b9.concord.events.applied',
  'concord.bench.mwpo9a8oygm4',
  'concord.test',
  'concord.test.orders',
  'concord-e2e-prod',
  'g.orders.t.payments',
  'g-mxb0yd41011fae9d.lag.mxb0ro5wbd69bf63',
  'group-order-mxb0ygyie6e377f6.projector.group-order-mxb0ro5wbd69bf63.concord.events.applied',
  'contract.orders.created',
  'bench.outbox.mwpo9a8oygm4',
  'bench.mwpo9a8oygm4.bus-0',
  '__consumer_offsets',
];

describe('test object names', () => {
  it('match what the suites create', () => {
    expect(testQueues.filter((name) => !isTestQueue(name))).toEqual([]);
    expect(testExchanges.filter((name) => !isTestExchange(name))).toEqual([]);
    expect(testTopics.filter((name) => !isTestTopic(name))).toEqual([]);
  });

  it('never match production, user or benchmark names', () => {
    const matched = others.filter((name) => isTestQueue(name) || isTestExchange(name) || isTestTopic(name));
    expect(matched).toEqual([]);
  });

  it('match only in full', () => {
    const wrapped = [...testQueues, ...testExchanges, ...testTopics].flatMap((name) => [
      `user.${name}`,
      `${name}.x.y`,
      `${name}\n`,
    ]);
    expect(wrapped.filter((name) => isTestQueue(name) || isTestExchange(name) || isTestTopic(name))).toEqual(
      [],
    );
  });
});

describe('selectRabbitMq', () => {
  const run = 'e2e-0c2f557c';
  const e2eQueue = `${run}.projector.${run}.concord.events.applied`;
  const e2eDlq = `${e2eQueue}.dlq`;
  const outboxQueue = 'g.mwpotevpjawauf.t.mwpotevpqhtjaa';

  it('deletes matching objects nobody consumes and nothing else', () => {
    const selection = selectRabbitMq(
      {
        queues: [
          { name: e2eQueue, consumers: 0 },
          { name: e2eDlq, consumers: 0 },
          { name: 'resolver.concord.events.applied', consumers: 0 },
        ],
        exchanges: [`concord-${run}`, 'concord', 'amq.topic'],
        bindings: [{ exchange: 'concord', queue: 'resolver.concord.events.applied' }],
      },
      TEST_OBJECTS,
    );
    expect(selection.queues).toEqual({ delete: [e2eQueue, e2eDlq], spared: 0 });
    expect(selection.exchanges).toEqual({ delete: [`concord-${run}`], spared: 0 });
  });

  it('spares everything of an e2e run while one of its queues has a consumer', () => {
    const selection = selectRabbitMq(
      {
        queues: [
          { name: e2eQueue, consumers: 1 },
          { name: e2eDlq, consumers: 0 },
          { name: `${run}.ingest.${run}.concord.events.submit`, consumers: 0 },
        ],
        exchanges: [`concord-${run}`],
        bindings: [],
      },
      TEST_OBJECTS,
    );
    expect(selection.queues).toEqual({ delete: [], spared: 3 });
    expect(selection.exchanges).toEqual({ delete: [], spared: 1 });
  });

  it('spares a consumed queue, its dead-letter queue and the exchange it is bound to', () => {
    const exchange = 'concord.test.mwpohii6muk926';
    const idle = 'g.mwpohio56ql5yx.t.mwpohio5ietr73';
    const selection = selectRabbitMq(
      {
        queues: [
          { name: outboxQueue, consumers: 2 },
          { name: `${outboxQueue}.dlq`, consumers: 0 },
          { name: idle, consumers: 0 },
        ],
        exchanges: [exchange, 'concord.test.mwpooiej9ot9tb'],
        bindings: [{ exchange, queue: outboxQueue }],
      },
      TEST_OBJECTS,
    );
    expect(selection.queues).toEqual({ delete: [idle], spared: 2 });
    expect(selection.exchanges).toEqual({ delete: ['concord.test.mwpooiej9ot9tb'], spared: 1 });
  });
});

describe('selectKafka', () => {
  it('deletes matching topics except those a consumer group reads, with their run and .dlq', () => {
    const topics = [
      '__consumer_offsets',
      'concord.events.applied',
      'e2e-db5e5103.concord.events.applied',
      'e2e-db5e5103.concord.events.applied.dlq',
      'e2e-a5f8f24d.concord.events.submit',
      'contract.mwpotevp0a1b2c3d.order',
      'contract.mwpotevp0a1b2c3d.order.dlq',
      'kafka-test.mwpotevp0a1b2c3d.create',
    ];
    const selection = selectKafka(
      { topics, consumed: ['e2e-db5e5103.concord.events.submit', 'contract.mwpotevp0a1b2c3d.order'] },
      isTestTopic,
    );
    expect(selection).toEqual({
      delete: ['e2e-a5f8f24d.concord.events.submit', 'kafka-test.mwpotevp0a1b2c3d.create'],
      spared: 4,
    });
  });
});
