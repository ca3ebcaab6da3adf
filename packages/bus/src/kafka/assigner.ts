import { AssignerProtocol } from 'kafkajs';
import type { Assigner, GroupMemberAssignment, PartitionAssigner } from 'kafkajs';

/** Partitions per topic. */
export type TopicPartitions = Readonly<Record<string, readonly number[]>>;

/** The assigner's protocol name: every member of a group must offer it for the group to use it. */
export const BUSY_STICKY_ASSIGNER = 'ConcordBusySticky';

/** What a member said when it joined: the topics it consumes and the partitions it is busy with. */
export interface AssignerClaim {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly busy: TopicPartitions;
}

const decodeBusy = (userData: Buffer): TopicPartitions => {
  if (userData.length === 0) return {};
  try {
    const parsed = JSON.parse(userData.toString('utf8')) as { busy?: TopicPartitions };
    return parsed.busy ?? {};
  } catch {
    return {};
  }
};

/**
 * A kafkajs partition assigner that never moves a partition away from a member still running handlers
 * of its records. kafkajs has no hook before it gives partitions up in a rebalance, and its fetch loop
 * does not wait for handlers it does not know of (the intake hands records to the pipeline and returns):
 * without this, another member could take the partition, handle the records that are still running
 * here, handle the ones after them, and commit past them, while they are still running.
 *
 * Each member tells, when it joins, which partitions it still has records in flight for (`busy()`,
 * read at join time, when its fetching has stopped); the leader gives each such partition back to
 * that member, and spreads the others evenly (fewest partitions first, members in id order). The
 * member's handlers of the old generation finish before the same records, fetched again from the
 * committed offset, run again behind them (same pipeline, same keys), so nothing commits past a
 * running handler. Only a member that leaves the group (it crashed, or kafkajs replaced its consumer)
 * loses its partitions while handlers may still run.
 */
export const busyStickyAssigner =
  (busy: () => TopicPartitions): PartitionAssigner =>
  ({ cluster }) => {
    const assigner: Assigner = {
      name: BUSY_STICKY_ASSIGNER,
      version: 0,
      protocol: ({ topics }) => ({
        name: BUSY_STICKY_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics,
          userData: Buffer.from(JSON.stringify({ busy: busy() })),
        }),
      }),
      assign: ({ members, topics }) => {
        const claims: AssignerClaim[] = members
          .map(({ memberId, memberMetadata }) => {
            const metadata = AssignerProtocol.MemberMetadata.decode(memberMetadata);
            return {
              memberId,
              topics: metadata?.topics ?? [],
              busy: decodeBusy(metadata?.userData ?? Buffer.alloc(0)),
            };
          })
          .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
        const partitions = topics.flatMap((topic) =>
          cluster.findTopicPartitionMetadata(topic).map(({ partitionId }) => ({ topic, partitionId })),
        );
        return Promise.resolve(assignPartitions(claims, partitions));
      },
    };
    return assigner;
  };

/** The assignment itself, apart from the kafkajs plumbing. */
export const assignPartitions = (
  claims: readonly AssignerClaim[],
  partitions: readonly { readonly topic: string; readonly partitionId: number }[],
): GroupMemberAssignment[] => {
  const assignment = new Map<string, Record<string, number[]>>(claims.map((c) => [c.memberId, {}]));
  const counts = new Map<string, number>(claims.map((c) => [c.memberId, 0]));
  const give = (memberId: string, topic: string, partition: number): void => {
    const own = assignment.get(memberId) as Record<string, number[]>;
    (own[topic] ??= []).push(partition);
    counts.set(memberId, (counts.get(memberId) ?? 0) + 1);
  };
  const free: { topic: string; partitionId: number }[] = [];
  for (const { topic, partitionId } of partitions) {
    const holder = claims.find(
      (claim) => claim.topics.includes(topic) && claim.busy[topic]?.includes(partitionId) === true,
    );
    if (holder === undefined) free.push({ topic, partitionId });
    else give(holder.memberId, topic, partitionId);
  }
  for (const { topic, partitionId } of free) {
    let least: string | undefined;
    for (const claim of claims) {
      if (!claim.topics.includes(topic)) continue;
      if (least === undefined || (counts.get(claim.memberId) ?? 0) < (counts.get(least) ?? 0)) {
        least = claim.memberId;
      }
    }
    if (least !== undefined) give(least, topic, partitionId);
  }
  return claims.map(({ memberId }) => ({
    memberId,
    memberAssignment: AssignerProtocol.MemberAssignment.encode({
      version: 0,
      assignment: assignment.get(memberId) ?? {},
      userData: Buffer.alloc(0),
    }),
  }));
};
