import type { IncomingMessage } from '../port.js';
import { MemoryGroup } from './group.js';
import { Receipt } from './receipt.js';

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
    for (const group of this.#groupsOf(topic)) {
      for (const message of messages) group.enqueue(message);
    }
  }

  /**
   * Like {@link deliver}; the receipt settles once every group's consumer settled every message (at once
   * when the topic has no group), and fails when a group holding one of them has no member.
   */
  deliverConsumed(topic: string, messages: readonly IncomingMessage[]): Receipt {
    const groups = this.#groupsOf(topic);
    const receipt = new Receipt(groups.length * messages.length);
    for (const group of groups) {
      for (const message of messages) group.enqueue(message, receipt);
    }
    return receipt;
  }

  #groupsOf(topic: string): MemoryGroup[] {
    return [...(this.#topics.get(topic)?.values() ?? [])];
  }
}
