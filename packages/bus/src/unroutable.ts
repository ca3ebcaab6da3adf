import type { ConcordError, Logger } from '@concord/core';
import { busUnroutableError } from './errors.js';
import type { PublishObserver } from './port.js';

/**
 * Reports messages no queue took: every one is counted through the observer, the first of a topic is
 * logged (a relay retrying a backlog would otherwise log each message on every attempt), and once a
 * message of that topic goes through again, so is that, and a later refusal is logged again.
 */
export class UnroutableTopics {
  readonly #logger: Logger;
  readonly #observer: PublishObserver | undefined;
  readonly #refused = new Set<string>();

  constructor(logger: Logger, observer: PublishObserver | undefined) {
    this.#logger = logger;
    this.#observer = observer;
  }

  /** `messages` of `topic` reached no queue; returns the error their publish fails with. */
  refused(topic: string, messages: number): ConcordError {
    try {
      this.#observer?.({ kind: 'unroutable', topic, messages });
    } catch {
      // An observer must not break publishing.
    }
    if (!this.#refused.has(topic)) {
      this.#refused.add(topic);
      this.#logger.warn(
        { topic },
        'no consumer group queue takes messages of this topic; publishes fail (retryably) until one is declared',
      );
    }
    return busUnroutableError(topic);
  }

  /** A message of `topic` reached its queues. Cheap when nothing was refused. */
  routed(topic: string): void {
    if (this.#refused.size === 0 || !this.#refused.delete(topic)) return;
    this.#logger.info({ topic }, 'messages of this topic reach their queues again');
  }
}
