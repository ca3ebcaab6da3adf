import type { Channel, Message } from 'amqplib';

/** What `channel.ack` reads of a delivery: its tag. */
const tagged = (deliveryTag: number): Message => ({ fields: { deliveryTag } }) as Message;

/**
 * Acknowledges one channel's deliveries with as few frames as it can. The acks of a tick are sent
 * together once the tick's work is done: one `multiple` ack for the run of settled deliveries at the
 * front of the channel's unacknowledged ones (the messages of a batch that committed together are
 * usually such a run), and an ack of its own for every other settled delivery. A delivery still being
 * handled is never covered, and no ack waits beyond the tick. For a quorum queue every ack frame is a
 * log entry, so a batch settled with one frame costs the broker one entry instead of one per message.
 */
export class ChannelAcks {
  readonly #channel: Channel;
  readonly #onError: (error: unknown) => void;
  /** Delivery tags in delivery order; the entries before #head have been acknowledged or released. */
  #tags: number[] = [];
  #head = 0;
  /** Tags at or after #head that are finished already: acked on their own, or released. */
  readonly #finished = new Set<number>();
  #settled: number[] = [];
  #scheduled = false;

  constructor(channel: Channel, onError: (error: unknown) => void) {
    this.#channel = channel;
    this.#onError = onError;
  }

  /** Call for every delivery, in the order the channel delivered them. */
  delivered(tag: number): void {
    this.#tags.push(tag);
  }

  /** The delivery was handled: acknowledge it after this tick. */
  ack(tag: number): void {
    this.#settled.push(tag);
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(() => this.flush());
  }

  /** The delivery went back to the broker (`nack` with requeue, sent by the caller). */
  released(tag: number): void {
    this.#finished.add(tag);
  }

  /** Sends the acks waiting for the end of the tick; call it before closing the channel. */
  flush(): void {
    this.#scheduled = false;
    if (this.#settled.length === 0) return;
    const settled = new Set(this.#settled);
    this.#settled = [];
    let upTo: number | undefined;
    while (this.#head < this.#tags.length) {
      const tag = this.#tags[this.#head] as number;
      if (settled.delete(tag)) upTo = tag;
      else if (!this.#finished.delete(tag)) break;
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#tags.length) {
      this.#tags = this.#tags.slice(this.#head);
      this.#head = 0;
    }
    try {
      if (upTo !== undefined) this.#channel.ack(tagged(upTo), true);
      for (const tag of settled) {
        this.#channel.ack(tagged(tag));
        this.#finished.add(tag);
      }
    } catch (error) {
      // The channel is gone: the broker redelivers what was not acknowledged.
      this.#onError(error);
    }
  }
}
