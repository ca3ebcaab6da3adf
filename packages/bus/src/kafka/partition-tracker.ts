/**
 * A fetched record of one partition, from submission to the pipeline until it is settled or released.
 * Offsets are plain numbers: exact up to 2^53, far beyond any partition's lifetime.
 */
export interface TrackedRecord {
  readonly offset: number;
  settled: boolean;
}

/**
 * The records of one partition in flight, in offset order. Handlers finish out of order (keys run
 * concurrently), but the commit point only moves past the longest prefix of settled (handled or
 * dead-lettered) records: a committed offset never skips an unfinished record.
 *
 * A tracker belongs to one group generation. After a rebalance it is marked stale: its records are
 * released instead of handled, and its commit point is no longer committed.
 */
export class PartitionTracker {
  readonly topic: string;
  readonly partition: number;
  readonly #records: TrackedRecord[] = [];
  #head = 0;
  #stale = false;
  /** The offset to commit next (one past the settled prefix), if it moved since the last commit. */
  #commitPoint: number | undefined;
  #committed: number | undefined;
  #resume: (() => void) | undefined;
  #drainWaiter: { readonly below: number; readonly wake: () => void } | undefined;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** Records submitted and not settled yet. */
  get pending(): number {
    return this.#records.length - this.#head;
  }

  get stale(): boolean {
    return this.#stale;
  }

  add(record: TrackedRecord): void {
    this.#records.push(record);
  }

  /** The first record not settled yet: where consumption must resume to redeliver it. */
  firstOpen(): number | undefined {
    return this.#records[this.#head]?.offset;
  }

  /** Marks a record settled and moves the commit point over the settled prefix. */
  settle(record: TrackedRecord): void {
    record.settled = true;
    let head = this.#records[this.#head];
    while (head?.settled === true) {
      this.#commitPoint = head.offset + 1;
      this.#head += 1;
      head = this.#records[this.#head];
    }
    if (this.#drainWaiter !== undefined && this.pending <= this.#drainWaiter.below) this.#drainWaiter.wake();
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /**
   * Resolves once at most `below` records are pending, the tracker goes stale, or `signal` aborts
   * (one waiter at a time: kafkajs hands a partition's batches over one after another).
   */
  drained(below: number, signal: AbortSignal): Promise<void> {
    if (this.pending <= below || this.#stale || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#drainWaiter = undefined;
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.#drainWaiter = { below, wake };
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** The offset to commit, if there is a new one and the tracker is current. */
  uncommitted(): number | undefined {
    if (this.#stale || this.#commitPoint === undefined || this.#commitPoint === this.#committed)
      return undefined;
    return this.#commitPoint;
  }

  committed(offset: number): void {
    if (this.#committed === undefined || offset > this.#committed) this.#committed = offset;
  }

  /** Remembers how to resume a partition paused for backpressure. */
  paused(resume: () => void): void {
    this.#resume = resume;
  }

  get isPaused(): boolean {
    return this.#resume !== undefined;
  }

  /** Resumes the partition if it was paused. */
  resume(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  markStale(): void {
    this.#stale = true;
    this.#drainWaiter?.wake();
    this.resume();
  }
}
