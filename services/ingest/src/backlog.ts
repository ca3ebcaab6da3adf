import type { GroupTopic } from '@concord/bus';
import { TOPOLOGY, Topics } from '@concord/core/messages';
import { quoteSchema } from '@concord/outbox';
import type { Database } from '@concord/outbox';
import type { BacklogSample } from './admission.js';

/** Messages waiting for the consumer groups downstream of ingest (`@concord/bus`'s lag probes). */
export interface ConsumerLagSource {
  /** The largest number of messages one of the groups has not consumed yet. */
  maxLag(): Promise<number>;
}

/**
 * The consumer groups downstream of ingest: every group of every topic in DESIGN §4's table but the
 * submit topic ingest itself consumes.
 */
export const downstreamConsumers = (): GroupTopic[] =>
  TOPOLOGY.filter((route) => route.topic !== Topics.submit).flatMap((route) =>
    route.groups.map((group) => ({ group, topic: route.topic })),
  );

export interface BacklogSourceDeps {
  readonly db: Database;
  readonly schema: string;
  readonly consumerLag?: ConsumerLagSource;
}

/**
 * Samples what admission control looks at: the outbox backlog (`outbox_backlog()`: unsettled rows of
 * every partition — ingest's own rows and those of the resolver and projector, which share the table —
 * and the age of the oldest), and the lag of the downstream consumer groups when a probe is given.
 */
export const backlogSource =
  (deps: BacklogSourceDeps): (() => Promise<BacklogSample>) =>
  async () => {
    const [outbox, consumerLag] = await Promise.all([
      deps.db.query<{ pending: number; oldest_ms: number }>(
        `SELECT b.pending, b.oldest_ms FROM ${quoteSchema(deps.schema)}.outbox_backlog() b`,
      ),
      deps.consumerLag?.maxLag(),
    ]);
    const row = outbox.rows[0];
    return {
      outboxRows: row?.pending ?? 0,
      outboxLagMs: row?.oldest_ms ?? 0,
      ...(consumerLag === undefined ? {} : { consumerLag }),
    };
  };
