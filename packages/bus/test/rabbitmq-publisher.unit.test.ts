import { EventEmitter } from 'node:events';
import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { RabbitPublisher } from '../src/rabbitmq/publisher.js';
import { shardOf } from '../src/rabbitmq/shards.js';
import type { PublishEvent } from '../src/port.js';
import { realTimers } from '../src/timers.js';
import { UnroutableTopics } from '../src/unroutable.js';

type Confirm = (error: unknown) => void;

/** A confirm channel that records publishes and lets the test confirm, nack or drop them. */
class FakeChannel extends EventEmitter {
  readonly sent: {
    routingKey: string;
    id: unknown;
    mandatory: unknown;
    headers: unknown;
    confirm: Confirm;
  }[] = [];
  publish(
    _exchange: string,
    routingKey: string,
    _content: Buffer,
    options: { messageId?: string; mandatory?: boolean; headers?: unknown },
    confirm: Confirm,
  ) {
    const { messageId: id, mandatory, headers } = options;
    this.sent.push({ routingKey, id, mandatory, headers, confirm });
    return true;
  }
  confirmAll(error: unknown = null): void {
    for (const entry of this.sent.splice(0)) entry.confirm(error);
  }
  /** What the broker does with a mandatory message no queue takes: basic.return, then basic.ack. */
  returnAndConfirm(index: number): void {
    const [entry] = this.sent.splice(index, 1);
    if (entry === undefined) throw new Error(`nothing sent at ${index}`);
    this.emit('return', {
      fields: { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'x', routingKey: entry.routingKey },
      properties: { messageId: entry.id, headers: entry.headers },
      content: Buffer.alloc(0),
    });
    entry.confirm(null);
  }
}

/** A logger that records warnings, to see what is logged once. */
const recordingLogger = () => {
  const warnings: unknown[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (fields: unknown) => void warnings.push(fields),
    child: () => logger,
  };
  return { logger, warnings };
};

const setup = (publishTimeoutMs = 5_000, shards = 1) => {
  let lost = 0;
  const events: PublishEvent[] = [];
  const log = recordingLogger();
  const publisher = new RabbitPublisher({
    exchange: 'x',
    logger: silentLogger,
    timers: realTimers,
    publishTimeoutMs,
    shards,
    unroutable: new UnroutableTopics(log.logger, (event) => events.push(event)),
    onChannelLost: () => {
      lost += 1;
    },
  });
  const attach = () => {
    const channel = new FakeChannel();
    publisher.attach(channel as unknown as ConfirmChannel);
    return channel;
  };
  return { publisher, attach, lost: () => lost, events, warnings: log.warnings };
};

/** A message of its own key (`key-<id>`), or of `key`. */
const message = (id: string, key = `key-${id}`) => ({ id, key, payload: new Uint8Array([1]) });

const republishPause = () => new Promise((resolve) => setTimeout(resolve, 150));

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

  it('publishes mandatory messages', () => {
    const { publisher, attach } = setup();
    const channel = attach();
    void publisher.publish('t', [message('a')]);
    expect(channel.sent[0]?.mandatory).toBe(true);
  });

  it('fails a batch with the retryable CONCORD_BUS_UNROUTABLE when the broker returns a message', async () => {
    const { publisher, attach, events } = setup();
    const channel = attach();
    const publishing = publisher.publish('t', [message('a'), message('b')]);
    expect(channel.sent.map((s) => s.id)).toEqual(['a', 'b']);
    channel.returnAndConfirm(1); // b reached no queue
    channel.confirmAll(); // a did
    await expect(publishing).rejects.toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE', retryable: true });
    expect(events).toEqual([{ kind: 'unroutable', topic: 't', messages: 1 }]);
    // Not published again by the publisher: the caller decides when to try again.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(channel.sent).toHaveLength(0);
    // Once a queue takes the topic's messages, the same message goes through.
    const again = publisher.publish('t', [message('b')]);
    channel.confirmAll();
    await again;
  });

  it('counts every returned message and logs a topic once until its messages go through again', async () => {
    const { publisher, attach, events, warnings } = setup();
    const channel = attach();
    for (let round = 0; round < 3; round += 1) {
      const publishing = publisher.publish('t', [message(`a-${round}`), message(`b-${round}`)]);
      channel.returnAndConfirm(0);
      channel.returnAndConfirm(0);
      await expect(publishing).rejects.toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE' });
    }
    const other = publisher.publish('u', [message('c')]);
    channel.returnAndConfirm(0);
    await expect(other).rejects.toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE' });
    expect(events.reduce((sum, event) => sum + event.messages, 0)).toBe(7);
    expect(warnings).toEqual([{ topic: 't' }, { topic: 'u' }]);
    const routed = publisher.publish('t', [message('d')]);
    channel.confirmAll();
    await routed;
    const refused = publisher.publish('t', [message('e')]);
    channel.returnAndConfirm(0);
    await expect(refused).rejects.toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE' });
    expect(warnings).toEqual([{ topic: 't' }, { topic: 'u' }, { topic: 't' }]);
  });

  it("sends a key's next message only once the one before is confirmed; other keys go at once", async () => {
    const { publisher, attach } = setup();
    const channel = attach();
    const publishing = publisher.publish('t', [message('a1', 'a'), message('b1', 'b'), message('a2', 'a')]);
    expect(channel.sent.map((s) => s.id)).toEqual(['a1', 'b1']);
    channel.sent[0]?.confirm(null);
    expect(channel.sent.map((s) => s.id)).toEqual(['a1', 'b1', 'a2']);
    channel.confirmAll();
    await publishing;
  });

  it('publishes a nacked message again ahead of every later message of its key', async () => {
    const { publisher, attach } = setup();
    const channel = attach();
    const first = publisher.publish('t', [message('k-1', 'k'), message('k-2', 'k')]);
    const second = publisher.publish('t', [message('k-3', 'k'), message('other', 'o')]);
    const order: unknown[] = [];
    const confirmNext = (error: unknown = null) => {
      const entry = channel.sent.shift();
      order.push(`${String(entry?.id)}${error === null ? '' : ' (nacked)'}`);
      entry?.confirm(error);
    };
    // k-1 and `other` are out; the broker nacks k-1 (a queue that refuses a message when full, say).
    expect(channel.sent.map((s) => s.id)).toEqual(['k-1', 'other']);
    confirmNext(new Error('nacked'));
    confirmNext(); // other
    // Had k-2 gone out with k-1, the queue could hold it ahead of k-1's republish: it has not.
    expect(channel.sent).toHaveLength(0);
    await republishPause();
    expect(channel.sent.map((s) => s.id)).toEqual(['k-1']);
    confirmNext();
    confirmNext();
    confirmNext();
    await Promise.all([first, second]);
    expect(order).toEqual(['k-1 (nacked)', 'other', 'k-1', 'k-2', 'k-3']);
  });

  it("after a dead channel, sends its unconfirmed messages first, then their keys' later ones", async () => {
    const { publisher, attach } = setup();
    const first = attach();
    const publishing = publisher.publish('t', [
      message('k-1', 'k'),
      message('k-2', 'k'),
      message('j-1', 'j'),
    ]);
    expect(first.sent.map((s) => s.id)).toEqual(['k-1', 'j-1']);
    publisher.detach();
    first.confirmAll(new Error('channel closed'));
    const later = publisher.publish('t', [message('k-3', 'k')]);
    const second = attach();
    await republishPause();
    expect(second.sent.map((s) => s.id)).toEqual(['k-1', 'j-1']);
    const ids: unknown[] = [];
    while (second.sent.length > 0) {
      const entry = second.sent.shift();
      ids.push(entry?.id);
      entry?.confirm(null);
    }
    await Promise.all([publishing, later]);
    expect(ids).toEqual(['k-1', 'j-1', 'k-2', 'k-3']);
  });

  it("lets a key's next message go once the one before was given up with its batch, even if its confirm never comes", async () => {
    const { publisher, attach } = setup(50);
    const channel = attach();
    const stuck = publisher.publish('t', [message('k-1', 'k'), message('k-2', 'k')]);
    await expect(stuck).rejects.toMatchObject({ code: 'CONCORD_BUS_UNAVAILABLE' });
    // k-1's confirm never comes (its connection died without saying): k-3 does not wait for it.
    const next = publisher.publish('t', [message('k-3', 'k')]);
    expect(channel.sent.map((s) => s.id)).toEqual(['k-1', 'k-3']);
    channel.sent.shift()?.confirm(new Error('nacked')); // late: k-1's batch is gone, nothing is resent
    expect(channel.sent.map((s) => s.id)).toEqual(['k-3']);
    channel.confirmAll();
    await next;
    expect(channel.sent).toEqual([]);
  });

  it('fails the batches queued behind a batch it gives up, so they are published again after it', async () => {
    const { publisher, attach } = setup(5_000);
    const channel = attach();
    const first = publisher.publish('t', [message('k-1', 'k'), message('j-1', 'j')]);
    const behind = publisher.publish('t', [message('k-2', 'k')]);
    const other = publisher.publish('t', [message('i-1', 'i')]);
    expect(channel.sent.map((s) => s.id)).toEqual(['k-1', 'j-1', 'i-1']);
    channel.returnAndConfirm(0); // k-1 comes back: its batch fails, and k-2's with it (never sent)
    await expect(first).rejects.toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE' });
    await expect(behind).rejects.toMatchObject({ code: 'CONCORD_BUS_UNROUTABLE' });
    channel.confirmAll();
    await other;
    expect(channel.sent).toEqual([]);
    const again = publisher.publish('t', [message('k-1', 'k'), message('k-2', 'k')]);
    expect(channel.sent.map((s) => s.id)).toEqual(['k-1']);
    channel.confirmAll();
    expect(channel.sent.map((s) => s.id)).toEqual(['k-2']);
    channel.confirmAll();
    await again;
  });

  it('routes a sharded topic to <topic>.<shard of the key>, and dead letters to the unsharded <topic>.dlq', () => {
    const { publisher, attach } = setup(5_000, 4);
    const channel = attach();
    void publisher.publish('t', [message('a', 'alpha'), message('b', 'beta')]);
    void publisher.publish('t.dlq', [message('c', 'alpha')]);
    expect(channel.sent.map((s) => s.routingKey)).toEqual([
      `t.${shardOf('alpha', 4)}`,
      `t.${shardOf('beta', 4)}`,
      't.dlq',
    ]);
  });

  it('asks for a new connection when its channel closes underneath it', () => {
    const { attach, lost } = setup();
    const channel = attach();
    channel.emit('close');
    expect(lost()).toBe(1);
  });
});
