/**
 * The confirmation of one `publish` on a memory bus with `confirm: 'consumed'`: it counts the batch's
 * deliveries (every message to every group of the topic) down as consumers settle them — handled, or
 * dead-lettered — and resolves at zero. It fails once, at the first delivery that cannot be settled
 * (its group has no member left), so the publisher tries again later. Settling after that is a no-op.
 */
export class Receipt {
  readonly promise: Promise<void>;
  #remaining: number;
  #done = false;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor(deliveries: number) {
    this.#remaining = deliveries;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (deliveries === 0) this.#finish();
  }

  get done(): boolean {
    return this.#done;
  }

  /** One delivery was handled or dead-lettered by its group's consumer. */
  settle(): void {
    if (this.#done) return;
    this.#remaining -= 1;
    if (this.#remaining <= 0) this.#finish();
  }

  /** A delivery will not be settled in time: the whole publish is unconfirmed. */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#reject(error);
  }

  #finish(): void {
    this.#done = true;
    this.#resolve();
  }
}
