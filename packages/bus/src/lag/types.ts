/** A consumer group's queue of one topic (DESIGN §4: RabbitMQ `<group>.<topic>`, a Kafka group's topic). */
export interface GroupTopic {
  readonly group: string;
  readonly topic: string;
}

/** Messages published to `topic` that `group` has not consumed yet. */
export interface GroupLag extends GroupTopic {
  readonly messages: number;
}

/**
 * Reads how far consumer groups are behind, from the broker: what a producer looks at before it takes
 * more work than the groups behind it can carry (ingest's admission control). Names are as the services
 * use them; the probe adds the deployment's prefix as `namespacedBus` does.
 */
export interface ConsumerLagProbe {
  /** The lag of every group and topic given; a queue or group that does not exist yet counts 0. */
  lag(): Promise<GroupLag[]>;
  /** Closes the probe's connection. Idempotent. */
  close(): Promise<void>;
}
