/** The topics services talk through (DESIGN §4). Keys: aggregate id, except outcomes (event id). */
export const Topics = {
  submit: 'concord.events.submit',
  applied: 'concord.events.applied',
  conflictDetected: 'concord.conflicts.detected',
  conflictResolved: 'concord.conflicts.resolved',
  projected: 'concord.aggregates.projected',
  outcome: 'concord.events.outcome',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];

/** Concord's services. Each consumes under a consumer group of its own name. */
export type ServiceName = 'ingest' | 'resolver' | 'projector' | 'notifier';

/** The consumer group each service consumes with; its queues are `<group>.<topic>` (DESIGN §4). */
export const ConsumerGroups = {
  ingest: 'ingest',
  resolver: 'resolver',
  projector: 'projector',
  notifier: 'notifier',
} as const satisfies Record<ServiceName, string>;

export type ConsumerGroup = (typeof ConsumerGroups)[ServiceName];

/** One row of DESIGN §4's table. Every topic also has `<topic>.dlq`, read by the same groups. */
export interface TopicRoute {
  readonly topic: Topic;
  /** Who publishes it: services, or `users` (clients publishing to the broker themselves). */
  readonly producers: readonly (ServiceName | 'users')[];
  /** The consumer groups that read it. Users reading outcomes bring groups of their own. */
  readonly groups: readonly ConsumerGroup[];
  /** The message key, the unit of ordering: `aggregateId`, or the event's id for outcomes. */
  readonly key: 'aggregateId' | 'eventId';
}

/** DESIGN §4's table, the one place in code that says who publishes and who consumes each topic. */
export const TOPOLOGY: readonly TopicRoute[] = Object.freeze([
  { topic: Topics.submit, producers: ['users'], groups: ['ingest'], key: 'aggregateId' },
  {
    topic: Topics.applied,
    producers: ['ingest', 'resolver'],
    groups: ['projector', 'notifier'],
    key: 'aggregateId',
  },
  { topic: Topics.conflictDetected, producers: ['ingest'], groups: ['resolver'], key: 'aggregateId' },
  {
    topic: Topics.conflictResolved,
    producers: ['resolver'],
    groups: ['projector', 'notifier'],
    key: 'aggregateId',
  },
  { topic: Topics.projected, producers: ['projector'], groups: ['notifier'], key: 'aggregateId' },
  { topic: Topics.outcome, producers: ['ingest', 'resolver'], groups: ['notifier'], key: 'eventId' },
] satisfies TopicRoute[]);

/** A topic with the consumer groups whose queues must exist for it (the bus's `declare` takes a list). */
export interface TopicDeclaration {
  readonly topic: string;
  readonly groups: readonly string[];
}

/** The topics a service's consumer group reads. */
export const consumedTopics = (service: ServiceName): Topic[] =>
  TOPOLOGY.filter((route) => route.groups.includes(ConsumerGroups[service])).map((route) => route.topic);

/**
 * What `service` declares on the broker at start, before its outbox relay's first publish: every group
 * that consumes a topic it publishes, and its own group on the topics it consumes. Then nothing it
 * publishes finds a topic without its queues, whichever service starts first.
 */
export const topologyOf = (service: ServiceName): TopicDeclaration[] =>
  TOPOLOGY.flatMap((route) => {
    const own = ConsumerGroups[service];
    const groups = route.producers.includes(service)
      ? route.groups
      : route.groups.filter((group) => group === own);
    return groups.length === 0 ? [] : [{ topic: route.topic, groups: [...groups] }];
  });

/** The whole table as declarations: what a process running every service declares. */
export const fullTopology = (): TopicDeclaration[] =>
  TOPOLOGY.map((route) => ({ topic: route.topic, groups: [...route.groups] }));

/** Every outcome an event can have (DESIGN §3). */
export const OUTCOMES = [
  'applied',
  'merged',
  'duplicate',
  'superseded',
  'conflict',
  'resolved',
  'pending_review',
  'rejected',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes after which nothing more happens to an event. `conflict` and `pending_review` are intermediate. */
export const isFinalOutcome = (outcome: Outcome): boolean =>
  outcome !== 'conflict' && outcome !== 'pending_review';
