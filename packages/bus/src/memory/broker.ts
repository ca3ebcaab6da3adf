import type { IncomingMessage } from '../port.js';
import { MemoryGroup } from './group.js';

/**
 * An in-process broker: topics, and per topic the consumer groups that exist (a group exists from its
 * first subscription on, like a durable queue, and keeps messages while it has no member). Several
 * {@link createMemoryBus} instances can share one broker, like services sharing a real broker.
 */
export class MemoryBroker {
  readonly #topics = new Map<string, Map<string, MemoryGroup>>();

  /** The group, created on first use. */
  group(topic: string, name: string): MemoryGroup {
    let groups = this.#topics.get(topic);
    if (groups === undefined) {
      groups = new Map();
      this.#topics.set(topic, groups);
    }
    let group = groups.get(name);
    if (group === undefined) {
      group = new MemoryGroup(topic, name);
      groups.set(name, group);
    }
    return group;
  }

  /** Hands every message to every group of the topic. Topics without groups drop messages. */
  deliver(topic: string, messages: readonly IncomingMessage[]): void {
    const groups = this.#topics.get(topic);
    if (groups === undefined) return;
    for (const group of groups.values()) {
      for (const message of messages) group.enqueue(message);
    }
  }
}
