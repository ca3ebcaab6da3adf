/**
 * Which broker objects the test suite creates, by the names it gives them, and which of those may be
 * deleted now. Pure: the caller lists the broker and deletes. A name is a test object only if it matches
 * one of the patterns below in full; `concord`, `concord.events.applied` or a user's queue never do.
 *
 * Unique parts of the names:
 * - `uniqueSuffix()` of `@concord/bus/testing`: base-36 milliseconds (8 characters) and 8 hex digits;
 * - `unique()` of the outbox and service tests: base-36 milliseconds and up to 8 base-36 characters;
 * - the e2e stack's run: 8 hex digits (`e2e-<run>.` prefixes every topic and group, `concord-e2e-<run>`
 *   is its exchange).
 */

/** Base-36 milliseconds from 2022 to 2059: 8 characters, the first of them `l` to `z`. */
const TIME = '[l-z][0-9a-z]{7}';
const SUFFIX = `${TIME}[0-9a-f]{8}`;
const UNIQUE = `${TIME}[0-9a-z]{1,8}`;
const RUN = '[0-9a-f]{8}';
const LABEL = '[a-z0-9-]+';
/** `.dlq`, `.dlq.dlq` (the dead letters of a group reading `<topic>.dlq`), and one more (a contract test). */
const DLQ = '(?:\\.dlq){0,3}';
/**
 * What a RabbitMQ consumer group adds to its queue `<group>.<topic>`: a shard `.<n>`, a shard's claim
 * queue `.<n>~claim`, or the members queue `~members` (a dead-letter topic has none).
 */
const SHARD = '(?:\\.[0-9]{1,2}(?:~claim)?|~members)?';
/** A Concord topic (`concord.events.applied`), or its dead-letter topic. */
const CONCORD_TOPIC = `concord\\.[a-z]+\\.[a-z]+${DLQ}`;

const full = (source: string): RegExp => new RegExp(`^(?:${source})$`);

/** Queues: `<group>.<topic>`, its shards and `<group>.<topic>.dlq` of the suites that use RabbitMQ. */
const QUEUES: readonly RegExp[] = [
  // e2e stack: `e2e-<run>.<service>.e2e-<run>.concord.<topic>`
  full(`e2e-(${RUN})\\.${LABEL}\\.e2e-\\1\\.${CONCORD_TOPIC}${SHARD}`),
  // bus contract: `<label>-<ns>.contract.<ns>.<label>`
  full(`${LABEL}-(${SUFFIX})\\.contract\\.\\1\\.${LABEL}${DLQ}${SHARD}`),
  // bus adapter specifics: `g-<suffix>.adapter.<suffix>.<label>`
  full(`g-(${SUFFIX})\\.adapter\\.\\1\\.${LABEL}${DLQ}${SHARD}`),
  // outbox relay tests: `g.<unique>.t.<unique>` (and `g-<unique>` groups of `collect`)
  full(`g[.-]${UNIQUE}\\.t\\.${UNIQUE}${DLQ}${SHARD}`),
  // bus and service-kit tests of one group and topic: `g-<suffix>.<label>.<suffix>` (lag, order, attempts)
  full(`g-(${SUFFIX})\\.${LABEL}\\.\\1${DLQ}${SHARD}`),
  // a group of a test on Concord's topics: `<label>-<suffix>.<service>.<label>-<suffix>.concord.<topic>`
  full(`(${LABEL}-${SUFFIX})\\.${LABEL}\\.\\1\\.${CONCORD_TOPIC}${SHARD}`),
  // ingest's id-less submit test: `ingest-<unique>.concord.<topic>`, `collect-<unique>.concord.<topic>`
  full(`(?:ingest|collect)-${UNIQUE}\\.${CONCORD_TOPIC}${SHARD}`),
];

/** Exchanges: one per e2e stack, one per bus or outbox test (`concord.test.<suffix or unique>`). */
const EXCHANGES: readonly RegExp[] = [
  full(`concord-e2e-${RUN}`),
  full(`concord\\.test\\.(?:${SUFFIX}|${UNIQUE})`),
];

/** Kafka topics (each with its `.dlq`). */
const TOPICS: readonly RegExp[] = [
  full(`e2e-${RUN}\\.${CONCORD_TOPIC}`),
  full(`contract\\.${SUFFIX}\\.${LABEL}${DLQ}`),
  full(`kafka-test\\.${SUFFIX}\\.${LABEL}${DLQ}`),
  full(`kafka-chaos\\.${SUFFIX}\\.consume${DLQ}`),
];

const matchesAny = (patterns: readonly RegExp[]) => (name: string) =>
  patterns.some((pattern) => pattern.test(name));

export const isTestQueue = matchesAny(QUEUES);
export const isTestExchange = matchesAny(EXCHANGES);
export const isTestTopic = matchesAny(TOPICS);

/** What the broker says about its objects (already listed by the caller). */
export interface RabbitMqListing {
  readonly queues: readonly { readonly name: string; readonly consumers: number }[];
  readonly exchanges: readonly string[];
  readonly bindings: readonly { readonly exchange: string; readonly queue: string }[];
}

export interface KafkaListing {
  readonly topics: readonly string[];
  /** Topics that members of a consumer group with members are assigned now. */
  readonly consumed: readonly string[];
}

/** Names selected for deletion, and how many matching ones are spared because they are in use. */
export interface Selection {
  readonly delete: readonly string[];
  readonly spared: number;
}

export interface RabbitMqSelection {
  readonly queues: Selection;
  readonly exchanges: Selection;
}

export interface Select {
  readonly queue: (name: string) => boolean;
  readonly exchange: (name: string) => boolean;
  readonly topic: (name: string) => boolean;
}

export const TEST_OBJECTS: Select = { queue: isTestQueue, exchange: isTestExchange, topic: isTestTopic };

/** The e2e run (`e2e-<run>`) a name belongs to, or the name without `.dlq`: objects that live together. */
const unitOf = (name: string): string =>
  /^(?:concord-)?(e2e-[0-9a-f]{8})[.]?/.exec(name)?.[1] ?? name.replace(/\.dlq$/, '');

/** Union-find over names: objects connected by a unit or a binding are in use together. */
const components = () => {
  const parent = new Map<string, string>();
  const find = (name: string): string => {
    let root = name;
    while ((parent.get(root) ?? root) !== root) root = parent.get(root) ?? root;
    parent.set(name, root);
    return root;
  };
  const join = (a: string, b: string): void => {
    parent.set(find(a), find(b));
  };
  return { find, join };
};

/**
 * The selected queues and exchanges, except those of a test still running somewhere: a queue with a
 * consumer spares its dead-letter queue, its exchange, and everything else of its e2e run.
 */
export const selectRabbitMq = (listing: RabbitMqListing, select: Select): RabbitMqSelection => {
  const queues = listing.queues.filter((queue) => select.queue(queue.name));
  const exchanges = listing.exchanges.filter((exchange) => select.exchange(exchange));
  const { find, join } = components();
  const node = (kind: 'q' | 'x', name: string) => `${kind}:${name}`;
  for (const queue of queues) join(node('q', queue.name), `u:${unitOf(queue.name)}`);
  for (const exchange of exchanges) join(node('x', exchange), `u:${unitOf(exchange)}`);
  const candidateExchanges = new Set(exchanges);
  const candidateQueues = new Set(queues.map((queue) => queue.name));
  for (const binding of listing.bindings) {
    if (candidateExchanges.has(binding.exchange) && candidateQueues.has(binding.queue)) {
      join(node('x', binding.exchange), node('q', binding.queue));
    }
  }
  const live = new Set(
    queues.filter((queue) => queue.consumers > 0).map((queue) => find(node('q', queue.name))),
  );
  const split = (names: readonly string[], kind: 'q' | 'x'): Selection => {
    const doomed = names.filter((name) => !live.has(find(node(kind, name))));
    return { delete: doomed, spared: names.length - doomed.length };
  };
  return {
    queues: split(
      queues.map((queue) => queue.name),
      'q',
    ),
    exchanges: split(exchanges, 'x'),
  };
};

/** The selected topics, except those (with their `.dlq` and their e2e run) a consumer group reads now. */
export const selectKafka = (listing: KafkaListing, select: (name: string) => boolean): Selection => {
  const live = new Set(listing.consumed.map(unitOf));
  const matching = listing.topics.filter(select);
  const doomed = matching.filter((topic) => !live.has(unitOf(topic)));
  return { delete: doomed, spared: matching.length - doomed.length };
};
