import type { Channel, Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { ChannelAcks } from '../src/rabbitmq/acks.js';

/** A channel that records the ack frames it is asked to send: [tag, multiple]. */
const recordingChannel = (options: { fail?: boolean } = {}) => {
  const frames: [number, boolean][] = [];
  const channel = {
    ack(message: Message, allUpTo?: boolean) {
      if (options.fail) throw new Error('Channel closed');
      frames.push([message.fields.deliveryTag, allUpTo === true]);
    },
  } as unknown as Channel;
  return { channel, frames };
};

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

const deliver = (acks: ChannelAcks, count: number) => {
  for (let tag = 1; tag <= count; tag += 1) acks.delivered(tag);
};

describe('ChannelAcks', () => {
  it('acknowledges deliveries settled in one tick with one multiple ack, after the tick', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new ChannelAcks(channel, () => undefined);
    deliver(acks, 5);
    for (const tag of [3, 1, 2, 4]) acks.ack(tag);
    expect(frames).toEqual([]);
    await nextTick();
    expect(frames).toEqual([[4, true]]);
  });

  it('never covers a delivery still being handled: later ones are acknowledged one by one', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new ChannelAcks(channel, () => undefined);
    deliver(acks, 4);
    acks.ack(2);
    acks.ack(4);
    await nextTick();
    expect(frames).toEqual([
      [2, false],
      [4, false],
    ]);
    // Once the first is done it is acknowledged alone: the multiple ack reaches no further than it.
    acks.ack(1);
    await nextTick();
    expect(frames.at(-1)).toEqual([1, true]);
    acks.ack(3);
    await nextTick();
    expect(frames.at(-1)).toEqual([3, true]);
    expect(frames).toHaveLength(4);
  });

  it('passes over released deliveries at the front', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new ChannelAcks(channel, () => undefined);
    deliver(acks, 3);
    acks.released(1);
    acks.ack(2);
    acks.ack(3);
    await nextTick();
    expect(frames).toEqual([[3, true]]);
  });

  it('sends what waits at once on flush (before the channel closes)', () => {
    const { channel, frames } = recordingChannel();
    const acks = new ChannelAcks(channel, () => undefined);
    deliver(acks, 2);
    acks.ack(1);
    acks.ack(2);
    acks.flush();
    expect(frames).toEqual([[2, true]]);
  });

  it('acknowledges every round of a long stream with one frame', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new ChannelAcks(channel, () => undefined);
    for (let round = 0; round < 50; round += 1) {
      for (let i = 1; i <= 100; i += 1) acks.delivered(round * 100 + i);
      for (let i = 100; i >= 1; i -= 1) acks.ack(round * 100 + i);
      await nextTick();
    }
    expect(frames).toHaveLength(50);
    expect(frames.at(-1)).toEqual([5000, true]);
  });

  it('reports a channel that can no longer acknowledge', async () => {
    const { channel } = recordingChannel({ fail: true });
    const errors: unknown[] = [];
    const acks = new ChannelAcks(channel, (error) => errors.push(error));
    deliver(acks, 1);
    acks.ack(1);
    await nextTick();
    expect(errors).toHaveLength(1);
  });
});
