import type { GroupTopic } from '@concord/bus';
import { TOPOLOGY, Topics } from '@concord/core/messages';
import { quoteSchema } from '@concord/outbox';
import type { Database } from '@concord/outbox';
import type { BacklogReading } from './admission.js';
import type { GroupLag } from './drain-watch.js';

/** Messages waiting for the consumer groups downstream of ingest (`@concord/bus`'s lag probes). */
export interface ConsumerLagSource {
  /** Each group's messages of each topic it has not consumed yet. */
  lag(): Promise<readonly GroupLag[]>;
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
 * and the age of the oldest), and the lag of the downstream consumer groups when a probe is given. A
 * failed probe does not fail the reading: it says so, and admission decides on what it knows.
 */
export const backlogSource =
  (deps: BacklogSourceDeps): (() => Promise<BacklogReading>) =>
  async () => {
    const lag = deps.consumerLag?.lag().then(
      (consumerLags) => ({ consumerLags }),
      (error: unknown) => ({ consumerLagError: error ?? new Error('consumer lag probe failed') }),
    );
    const [outbox, consumerLag] = await Promise.all([
      deps.db.query<{ pending: number; oldest_ms: number }>(
        `SELECT b.pending, b.oldest_ms FROM ${quoteSchema(deps.schema)}.outbox_backlog() b`,
      ),
      lag,
    ]);
    const row = outbox.rows[0];
    return { outboxRows: row?.pending ?? 0, outboxLagMs: row?.oldest_ms ?? 0, ...consumerLag };
  };
