import { EventEmitter } from 'node:events';
import { silentLogger } from '@concord/core';
import type { ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { RabbitPublisher } from '../src/rabbitmq/publisher.js';
import { realTimers } from '../src/timers.js';

type Confirm = (error: unknown) => void;

/** A confirm channel that records publishes and lets the test confirm, nack or drop them. */
class FakeChannel extends EventEmitter {
  readonly sent: { routingKey: string; id: unknown; confirm: Confirm }[] = [];
  publish(
    _exchange: string,
    routingKey: string,
    _content: Buffer,
    options: { messageId?: string },
    confirm: Confirm,
  ) {
    this.sent.push({ routingKey, id: options.messageId, confirm });
    return true;
  }
  confirmAll(error: unknown = null): void {
    for (const entry of this.sent.splice(0)) entry.confirm(error);
  }
}

const setup = (publishTimeoutMs = 5_000) => {
  let lost = 0;
  const publisher = new RabbitPublisher({
    exchange: 'x',
    logger: silentLogger,
    timers: realTimers,
    publishTimeoutMs,
    onChannelLost: () => {
      lost += 1;
    },
  });
  const attach = () => {
    const channel = new FakeChannel();
    publisher.attach(channel as unknown as ConfirmChannel);
    return channel;
  };
  return { publisher, attach, lost: () => lost };
};

const message = (id: string) => ({ id, key: 'k', payload: new Uint8Array([1]) });

describe('RabbitPublisher', () => {
  it('resolves a batch only once every message is confirmed', async () => {
    const { publisher, attach } = setup();
    const channel = attach();
    let done = false;
    const publishing = publisher.publish('t', [message('a'), message('b')]).then(() => (done = true));
    expect(channel.sent.map((s) => s.id)).toEqual(['a', 'b']);
    channel.sent[0]?.confirm(null);
    await Promise.resolve();
    expect(done).toBe(false);
    channel.sent[1]?.confirm(null);
    await publishing;
    expect(done).toBe(true);
  });

  it('holds messages while blocked and sends them when unblocked', async () => {
    const { publisher, attach } = setup();
    const channel = attach();
    publisher.setBlocked(true);
    expect(publisher.writable).toBe(false);
    const publishing = publisher.publish('t', [message('a')]);
    expect(channel.sent).toHaveLength(0);
    publisher.setBlocked(false);
    expect(channel.sent.map((s) => s.id)).toEqual(['a']);
    channel.confirmAll();
    await publishing;
  });

  it('republishes unconfirmed messages on the next channel after the connection died', async () => {
    const { publisher, attach } = setup();
    const first = attach();
    const publishing = publisher.publish('t', [message('a'), message('b')]);
    first.sent[0]?.confirm(null);
    publisher.detach();
    first.sent[1]?.confirm(new Error('channel closed'));
    const second = attach();
    await new Promise((resolve) => setTimeout(resolve, 150)); // republish pause
    expect(second.sent.map((s) => s.id)).toEqual(['b']);
    second.confirmAll();
    await publishing;
  });

  it('republishes a nacked message on the same channel', async () => {
    const { publisher, attach } = setup();
    const channel = attach();
    const publishing = publisher.publish('t', [message('a')]);
    channel.confirmAll(new Error('message nacked'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(channel.sent.map((s) => s.id)).toEqual(['a']);
    channel.confirmAll();
    await publishing;
  });

  it('fails with a retryable error when nothing confirms in time, and with CLOSED after close', async () => {
    const { publisher } = setup(50);
    await expect(publisher.publish('t', [message('a')])).rejects.toMatchObject({
      code: 'CONCORD_BUS_UNAVAILABLE',
      retryable: true,
    });
    const pending = publisher.publish('t', [message('b')]);
    publisher.close();
    await expect(pending).rejects.toMatchObject({ code: 'CONCORD_BUS_CLOSED' });
    await expect(publisher.publish('t', [message('c')])).rejects.toMatchObject({
      code: 'CONCORD_BUS_CLOSED',
    });
  });

  it('asks for a new connection when its channel closes underneath it', () => {
    const { attach, lost } = setup();
    const channel = attach();
    channel.emit('close');
    expect(lost()).toBe(1);
  });
});
