import { ConcordError } from '@concord/core';
import { busErrors } from '../errors.js';

/**
 * Shards of a consumer group's queue (DESIGN §4). A topic's messages are spread over `shards` queues per
 * group by a stable hash of their key, so the members of a group can share the work while every key stays
 * in one queue: `<group>.<topic>.<n>`, bound to routing key `<topic>.<n>`. Each shard queue has a single
 * consumer at a time (see `shard-assigner.ts`), so per-key order holds across members.
 *
 * Beside the shards every group keeps its *lane*, `<group>.<topic>`, bound to routing key `<topic>`: what
 * a producer publishes without sharding (a foreign client publishing to the exchange with routing key =
 * topic, a bus configured with one shard, the messages of a release before shards) lands there, and every
 * member consumes it as before shards (single active consumer when configured). Dead-letter topics
 * (`<topic>.dlq`, `<topic>.dlq.dlq`) are never sharded: their messages go to the lane.
 */

/** Default shards per group queue (`AMQP_SHARDS`); the same for every service of a deployment. */
export const DEFAULT_SHARDS = 4;
/** Most shards per group queue: each is a quorum queue, and `<group>.<topic>.<n>` must fit 255 bytes. */
export const MAX_SHARDS = 64;

/** Longest AMQP queue name (a shortstr), in UTF-8 bytes. */
const MAX_QUEUE_NAME_BYTES = 255;

/** Shards of `topic` given the bus's setting: dead-letter topics have one (the lane). */
export const topicShards = (topic: string, shards: number): number => (topic.endsWith('.dlq') ? 1 : shards);

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The shard of a key: 32-bit FNV-1a of its UTF-8 bytes, modulo `shards`. Stable across processes,
 * releases and languages, so every producer of a deployment routes a key to the same shard.
 */
export const shardOf = (key: string, shards: number): number => {
  if (shards <= 1) return 0;
  let hash = FNV_OFFSET;
  let ascii = true;
  for (let index = 0; index < key.length; index += 1) {
    const code = key.charCodeAt(index);
    if (code >= 0x80) {
      ascii = false;
      break;
    }
    hash = Math.imul(hash ^ code, FNV_PRIME);
  }
  if (!ascii) {
    hash = FNV_OFFSET;
    for (const byte of Buffer.from(key, 'utf8')) hash = Math.imul(hash ^ byte, FNV_PRIME);
  }
  return (hash >>> 0) % shards;
};

/** The routing key a message of `topic` with `key` is published with: `<topic>.<shard>`, or the topic. */
export const shardRoutingKey = (topic: string, key: string, shards: number): string => {
  const count = topicShards(topic, shards);
  return count === 1 ? topic : `${topic}.${shardOf(key, count)}`;
};

/** `<group>.<topic>`: the group's lane for `topic` (and, for a dead-letter topic, its only queue). */
export const groupQueue = (group: string, topic: string): string => `${group}.${topic}`;

/** `<group>.<topic>.<n>`: shard `n` of the group's queue for `topic`. */
export const shardQueue = (group: string, topic: string, shard: number): string =>
  `${group}.${topic}.${shard}`;

/** Every queue that holds the group's messages of `topic`: its lane, then its shards (if sharded). */
export const groupQueues = (group: string, topic: string, shards = DEFAULT_SHARDS): string[] => {
  const count = topicShards(topic, shards);
  const lane = groupQueue(group, topic);
  return count === 1
    ? [lane]
    : [lane, ...Array.from({ length: count }, (_, n) => shardQueue(group, topic, n))];
};

/**
 * `<group>.<topic>~members`: a classic queue nothing is published to, which every member of the group
 * consumes while it reads `topic`; its consumer count is the number of live members. `~` is in no topic
 * or group name, so it can be no group queue.
 */
export const membersQueue = (group: string, topic: string): string => `${group}.${topic}~members`;

/** `<group>.<topic>.<n>~claim`: the member with the (exclusive) consumer of this queue owns shard `n`. */
export const claimQueue = (group: string, topic: string, shard: number): string =>
  `${group}.${topic}.${shard}~claim`;

const invalidTopic = (topic: string, reason: string): ConcordError =>
  new ConcordError(busErrors.BUS_INVALID_TOPIC, `Invalid topic name ${JSON.stringify(topic)}: ${reason}`, {
    details: { topic },
  });

/**
 * RabbitMQ refuses a topic whose last segment is a number: `<topic>.<n>` is the routing key of shard `n`
 * of another topic, and `<group>.<topic>` its queue. (Checked whatever `shards` is, so that raising it
 * later cannot make a topic ambiguous.)
 */
export const assertShardableTopic = (topic: string): void => {
  if (/\.[0-9]+$/.test(topic)) {
    throw invalidTopic(topic, 'a last segment that is a number is reserved for RabbitMQ shards');
  }
};

/** The names a sharded subscription derives must fit AMQP's 255-byte queue names. */
export const assertShardQueueNames = (group: string, topic: string, shards: number): void => {
  const count = topicShards(topic, shards);
  if (count === 1) return;
  const longest = claimQueue(group, topic, count - 1);
  if (Buffer.byteLength(longest) > MAX_QUEUE_NAME_BYTES) {
    throw invalidTopic(topic, `group and topic too long for the shard queue ${longest} (255 bytes at most)`);
  }
};
