import { invalidOptionsError } from '../errors.js';

/** A unit of work; it must not reject (errors are the task's own business). */
export type KeyedTask = () => Promise<unknown>;

/**
 * Runs tasks so that tasks with the same key run one at a time in submission order, while up to
 * `concurrency` different keys run at once. Keys waiting for a slot are served first come, first served;
 * a key that still has work after a task goes to the back of that line, so one busy key cannot starve others.
 */
export class KeyedDispatcher {
  readonly #concurrency: number;
  readonly #queues = new Map<string, KeyedTask[]>();
  readonly #ready: string[] = [];
  #running = 0;
  #pending = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw invalidOptionsError('concurrency must be an integer >= 1', { concurrency });
    }
    this.#concurrency = concurrency;
  }

  /** Tasks submitted and not yet finished (running or waiting). */
  get pending(): number {
    return this.#pending;
  }

  /** Tasks running right now. */
  get running(): number {
    return this.#running;
  }

  push(key: string, task: KeyedTask): void {
    this.#pending += 1;
    const queue = this.#queues.get(key);
    if (queue !== undefined) {
      queue.push(task);
      return;
    }
    this.#queues.set(key, [task]);
    this.#ready.push(key);
    this.#pump();
  }

  /** Resolves once no task is running or waiting. */
  onIdle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#ready.length > 0) {
      const key = this.#ready.shift() as string;
      const task = this.#queues.get(key)?.[0];
      if (task === undefined) continue;
      this.#running += 1;
      void this.#run(key, task);
    }
  }

  async #run(key: string, task: KeyedTask): Promise<void> {
    try {
      await task();
    } catch {
      // Tasks own their errors; a rejection here must not wedge the key.
    }
    this.#running -= 1;
    this.#pending -= 1;
    const queue = this.#queues.get(key);
    queue?.shift();
    if (queue !== undefined && queue.length > 0) this.#ready.push(key);
    else this.#queues.delete(key);
    this.#pump();
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    if (this.#pending !== 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
