import { silentLogger } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { fairShare, ShardAssigner } from '../src/rabbitmq/shard-assigner.js';
import type { ShardPort } from '../src/rabbitmq/shard-assigner.js';
import { shardOf, shardRoutingKey } from '../src/rabbitmq/shards.js';
import { realTimers } from '../src/timers.js';

/** A broker's view of one group's shards: who holds each (an exclusive claim), and who is a member. */
class FakeGroup {
  readonly owners = new Map<number, string>();
  readonly members = new Set<string>();

  port(member: string): ShardPort {
    return {
      members: () => Promise.resolve(this.members.size),
      claimed: (shard) => Promise.resolve(this.owners.has(shard)),
      claim: (shard) => {
        if (this.owners.has(shard)) return Promise.resolve(false);
        this.owners.set(shard, member);
        return Promise.resolve(true);
      },
      release: (shard) => {
        if (this.owners.get(shard) === member) this.owners.delete(shard);
        return Promise.resolve();
      },
    };
  }

  /** A member dies: its claims vanish with its connection. */
  die(member: string): void {
    this.members.delete(member);
    for (const [shard, owner] of this.owners) if (owner === member) this.owners.delete(shard);
  }
}

const assigner = (group: FakeGroup, member: string, shards = 4) => {
  group.members.add(member);
  return new ShardAssigner({
    shards,
    port: group.port(member),
    intervalMs: 60_000,
    timers: realTimers,
    random: () => 0.5,
    logger: silentLogger,
  });
};

const sorted = (shards: readonly number[]) => [...shards].sort((x, y) => x - y);

describe('ShardAssigner', () => {
  it('aims at ⌈shards / members⌉', () => {
    expect([1, 2, 3, 4, 5].map((members) => fairShare(4, members))).toEqual([4, 2, 2, 1, 1]);
    expect(fairShare(4, 0)).toBe(4);
  });

  it('takes every shard alone, starting at a random one', async () => {
    const group = new FakeGroup();
    const a = assigner(group, 'a');
    await a.balance();
    expect(a.held).toEqual([2, 3, 0, 1]);
  });

  it('gives shards up to a member that joins, which takes them at its next pass', async () => {
    const group = new FakeGroup();
    const a = assigner(group, 'a');
    await a.balance();
    const b = assigner(group, 'b');
    await b.balance(); // none free yet
    expect(b.held).toEqual([]);
    await a.balance(); // the last taken go first
    expect(a.held).toEqual([2, 3]);
    await b.balance();
    expect(sorted(b.held)).toEqual([0, 1]);
    // Balanced: further passes change nothing.
    await a.balance();
    await b.balance();
    expect(sorted([...a.held, ...b.held])).toEqual([0, 1, 2, 3]);
    expect([a.held.length, b.held.length]).toEqual([2, 2]);
  });

  it('takes the shards of a member that died at its next pass', async () => {
    const group = new FakeGroup();
    const a = assigner(group, 'a');
    const b = assigner(group, 'b');
    await a.balance();
    await b.balance();
    expect(a.held.length + b.held.length).toBe(4);
    group.die('b');
    await a.balance();
    expect(sorted(a.held)).toEqual([0, 1, 2, 3]);
  });

  it('spreads 4 shards over 3 members without leaving one free, and claims a lost shard again', async () => {
    const group = new FakeGroup();
    const members = ['a', 'b', 'c'].map((name) => assigner(group, name));
    for (let round = 0; round < 3; round += 1) for (const member of members) await member.balance();
    expect(group.owners.size).toBe(4);
    expect(members.every((member) => member.held.length <= 2)).toBe(true);
    const [first] = members;
    const shard = first?.held[0] as number;
    group.owners.delete(shard); // its channel died
    first?.lost(shard);
    for (const member of members) await member.balance();
    expect(group.owners.size).toBe(4);
  });

  it('stops balancing once stopped', async () => {
    const group = new FakeGroup();
    const a = assigner(group, 'a');
    await a.start();
    expect(a.state).toBe('balancing');
    await a.stop();
    expect(a.state).toBe('stopped');
    group.owners.clear();
    await a.balance();
    expect(group.owners.size).toBe(0);
  });
});

describe('shards', () => {
  it('routes a key to the same shard everywhere (FNV-1a of its UTF-8 bytes), dead letters to the lane', () => {
    // Known FNV-1a values: "a" = 0xe40c292c, "foobar" = 0xbf9cf968.
    expect(shardOf('a', 1_000_000)).toBe(0xe40c292c % 1_000_000);
    expect(shardOf('foobar', 1_000_000)).toBe(0xbf9cf968 % 1_000_000);
    // "é" is hashed as its UTF-8 bytes c3 a9.
    const utf8 = Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) >>> 0;
    expect(shardOf('é', 1_000_000)).toBe(utf8 % 1_000_000);
    const spread = new Set(Array.from({ length: 100 }, (_, n) => shardOf(`aggregate-${n}`, 4)));
    expect(spread).toEqual(new Set([0, 1, 2, 3]));
    expect(shardRoutingKey('t', 'a', 4)).toBe(`t.${shardOf('a', 4)}`);
    expect(shardRoutingKey('t', 'a', 1)).toBe('t');
    expect(shardRoutingKey('t.dlq', 'a', 4)).toBe('t.dlq');
  });
});
