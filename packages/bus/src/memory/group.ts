import type { IncomingMessage } from '../port.js';
import type { ConsumerPipeline } from '../consumer/pipeline.js';
import { busUnavailableError } from '../errors.js';
import type { Receipt } from './receipt.js';

/** A message held by a group, with its position in the group's publish order. */
export interface GroupRecord {
  readonly seq: number;
  readonly message: IncomingMessage;
  /** The publish waiting for this group to settle the message (`confirm: 'consumed'`); cleared once failed. */
  receipt: Receipt | undefined;
}

/** One subscriber of a group. */
export interface GroupMember {
  readonly pipeline: ConsumerPipeline;
  outstanding: number;
  closing: boolean;
}

interface KeyOwner {
  readonly member: GroupMember;
  count: number;
}

/**
 * One consumer group of one topic in the memory broker: it keeps messages until a member takes them,
 * shares work among members (a key with outstanding messages sticks to its member, a new key goes to the
 * least loaded member), and keeps per-key order when a member leaves: its released messages and the key's
 * newer ones are parked until the member's last delivery of that key ends, then routed again in order.
 * A message with a receipt settles it when a member handled or dead-lettered it; while the group has no
 * member, the message is kept but its receipt fails (nobody will settle it soon).
 */
export class MemoryGroup {
  readonly #members: GroupMember[] = [];
  readonly #owners = new Map<string, KeyOwner>();
  readonly #parked = new Map<string, GroupRecord[]>();
  #buffer: GroupRecord[] = [];
  #scheduled = false;
  #nextSeq = 0;

  constructor(
    readonly topic: string,
    readonly name: string,
  ) {}

  enqueue(message: IncomingMessage, receipt?: Receipt): void {
    this.#buffer.push({ seq: this.#nextSeq++, message, receipt });
    if (this.#members.length === 0) this.#failReceipts();
    this.#schedule();
  }

  join(member: GroupMember): void {
    this.#members.push(member);
    this.#schedule();
  }

  /** Stops routing new keys to the member; its outstanding keys are handed over as they finish. */
  leave(member: GroupMember): void {
    member.closing = true;
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
    if (this.#members.length === 0) this.#failReceipts();
  }

  /** The group has no member: the receipts of the messages it holds (not those being handled) fail. */
  #failReceipts(): void {
    const held = [...this.#buffer, ...[...this.#parked.values()].flat()];
    for (const record of held) {
      if (record.receipt === undefined) continue;
      record.receipt.fail(
        busUnavailableError(`no consumer of group ${this.name} on ${this.topic} to settle the message`),
      );
      record.receipt = undefined;
    }
  }

  /** Messages waiting for a member (not counting those being handled). */
  get waiting(): number {
    let parked = 0;
    for (const records of this.#parked.values()) parked += records.length;
    return this.#buffer.length + parked;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const records = this.#buffer;
    this.#buffer = [];
    for (const record of records) this.#route(record);
  }

  #route(record: GroupRecord): void {
    const key = record.message.key;
    const parked = this.#parked.get(key);
    if (parked !== undefined) {
      parked.push(record);
      return;
    }
    const owner = this.#owners.get(key);
    if (owner?.member.closing === true) {
      this.#parked.set(key, [record]);
      return;
    }
    const member = owner?.member ?? this.#leastLoaded();
    if (member === undefined) {
      this.#buffer.push(record);
      return;
    }
    this.#deliver(member, record);
  }

  #leastLoaded(): GroupMember | undefined {
    let best: GroupMember | undefined;
    for (const member of this.#members) {
      if (best === undefined || member.outstanding < best.outstanding) best = member;
    }
    return best;
  }

  #deliver(member: GroupMember, record: GroupRecord): void {
    const key = record.message.key;
    const owner = this.#owners.get(key) ?? { member, count: 0 };
    owner.count += 1;
    this.#owners.set(key, owner);
    member.outstanding += 1;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      member.outstanding -= 1;
      owner.count -= 1;
      if (owner.count === 0) this.#releaseKey(key);
    };
    member.pipeline.submit({
      message: record.message,
      settle: () => {
        record.receipt?.settle();
        finish();
      },
      release: () => {
        const again: GroupRecord = {
          seq: record.seq,
          message: { ...record.message, attempt: record.message.attempt + 1 },
          receipt: record.receipt,
        };
        const parked = this.#parked.get(key);
        if (parked === undefined) this.#parked.set(key, [again]);
        else parked.push(again);
        finish();
        if (this.#members.length === 0) this.#failReceipts();
      },
    });
  }

  /** The key has nothing outstanding: route its parked messages again, oldest first. */
  #releaseKey(key: string): void {
    this.#owners.delete(key);
    const parked = this.#parked.get(key);
    if (parked === undefined) return;
    this.#parked.delete(key);
    parked.sort((a, b) => a.seq - b.seq);
    this.#buffer.unshift(...parked);
    this.#schedule();
  }
}
