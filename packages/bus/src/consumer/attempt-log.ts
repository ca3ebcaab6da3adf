/**
 * Failed attempts of messages that are not settled yet, by a key that names the message across its
 * deliveries (a RabbitMQ message id, a Kafka record's position), so a message the broker delivers
 * again — after its channel died, a rebalance, a release — goes on counting where it stopped instead
 * of starting over. In memory: a restarted process starts over from what the broker says. Bounded:
 * past `limit` entries the oldest is forgotten (a message that went to another consumer and never
 * came back).
 */
export class AttemptLog {
  readonly #limit: number;
  readonly #failed = new Map<string, number>();

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#failed.size;
  }

  failed(key: string, attempt: number): void {
    this.#failed.delete(key);
    this.#failed.set(key, attempt);
    if (this.#failed.size > this.#limit) {
      const oldest = this.#failed.keys().next();
      if (oldest.done !== true) this.#failed.delete(oldest.value);
    }
  }

  failedBefore(key: string): number {
    return this.#failed.get(key) ?? 0;
  }

  /** The message was handled or dead-lettered. */
  settled(key: string): void {
    if (this.#failed.size > 0) this.#failed.delete(key);
  }
}
