import { dlqTopic } from '../port.js';
import type { IncomingMessage } from '../port.js';
import { MemoryGroup } from './group.js';
import { Receipt } from './receipt.js';

/**
 * An in-process broker: topics, and per topic the consumer groups that exist (a group exists once
 * declared or first subscribed, like a durable queue, and keeps messages while it has no member). A
 * topic without groups takes no messages. Several {@link createMemoryBus} instances can share one
 * broker, like services sharing a real broker.
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

  /** The group on `topic` and on `<topic>.dlq`, where its dead letters wait (like a RabbitMQ group's). */
  declare(topic: string, name: string): MemoryGroup {
    this.group(dlqTopic(topic), name);
    return this.group(topic, name);
  }

  /** Hands every message to every group of the topic; false (nothing taken) when it has none. */
  deliver(topic: string, messages: readonly IncomingMessage[]): boolean {
    const groups = this.#groupsOf(topic);
    for (const group of groups) {
      for (const message of messages) group.enqueue(message);
    }
    return groups.length > 0;
  }

  /**
   * Like {@link deliver}; the receipt settles once every group's consumer settled every message, and
   * fails when a group holding one of them has no member. Undefined (nothing taken) without groups.
   */
  deliverConsumed(topic: string, messages: readonly IncomingMessage[]): Receipt | undefined {
    const groups = this.#groupsOf(topic);
    if (groups.length === 0) return undefined;
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
