/**
 * Dead letters of the outbox (moved there by the relay) and of the bus (recorded from `<topic>.dlq`):
 * listed a page at a time, narrowed by a filter, and replayed back through the outbox, where the relay
 * publishes them again with their message id.
 */
import { createMemoryBus } from '@concord/bus';
import type { IncomingMessage } from '@concord/bus';
import { ConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { createBusDeadLetterStore, createOutboxDeadLetterStore } from '../src/index.js';
import { faultyBus } from '../src/testing/index.js';
import { collect, readText, text, unique, waitFor } from './helpers.js';
import { useRelayHarness } from './support/relay-harness.js';

const h = useRelayHarness();
const outboxLetters = createOutboxDeadLetterStore();
const busLetters = createBusDeadLetterStore();

const refused = new ConcordError('CONCORD_TEST_REFUSED', 'the broker refused it');

describe('outbox dead letters', () => {
  it('lists what the relay gave up on and replays it once, with its message id and trace context', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    let refusing = true;
    const bus = faultyBus(memory, {
      failWhen: (to, m) =>
        refusing && to === topic && readText(m.payload).startsWith('bad') ? refused : undefined,
    });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await h.db.query(
      `INSERT INTO concord.outbox (message_id, topic, key, headers, payload, traceparent)
       VALUES ('bad-1', $1, 'k1', '{"correlation-id":"c1"}', $2, $3), ('good-1', $1, 'k2', '{}', $4, NULL),
         ('bad-2', $1, 'k3', '{}', $5, NULL)`,
      [topic, text('bad:1'), traceparent, text('good:1'), text('bad:2')],
    );
    const relay = h.relay(bus, { maxAttempts: 1, publishDeadLetters: false });
    await waitFor(
      'two dead letters',
      async () => (await outboxLetters.list(h.db, { limit: 10 })).deadLetters.length === 2,
    );
    await waitFor('message 1', () => received.length === 1);

    const first = await outboxLetters.list(h.db, { limit: 1 });
    expect(first.deadLetters).toEqual([
      expect.objectContaining({
        messageId: 'bad-1',
        topic,
        key: 'k1',
        headers: { 'correlation-id': 'c1' },
        payloadBytes: 5,
        attempts: 1,
        errorCode: 'CONCORD_TEST_REFUSED',
        error: 'the broker refused it',
      }),
    ]);
    expect(first.next).not.toBeNull();
    const second = await outboxLetters.list(h.db, { limit: 1, after: first.next ?? '' });
    expect(second.deadLetters.map((d) => d.messageId)).toEqual(['bad-2']);
    const third = await outboxLetters.list(h.db, { limit: 1, after: second.next ?? '' });
    expect(third).toEqual({ deadLetters: [], next: null });
    expect(
      (await outboxLetters.list(h.db, { limit: 10, filter: { errorCode: 'CONCORD_OTHER' } })).deadLetters,
    ).toEqual([]);
    expect(
      (await outboxLetters.list(h.db, { limit: 10, filter: { topic: 'elsewhere' } })).deadLetters,
    ).toEqual([]);

    refusing = false;
    const id = first.deadLetters[0]?.id ?? '';
    expect(await outboxLetters.replay(h.db, [id, '999999', 'nonsense'])).toEqual({
      replayed: [id],
      missing: ['999999', 'nonsense'],
    });
    await waitFor('message 2', () => received.length === 2);
    const replayed = received[1] as IncomingMessage;
    expect(replayed.id).toBe('bad-1');
    expect(readText(replayed.payload)).toBe('bad:1');
    expect(replayed.headers['correlation-id']).toBe('c1');
    expect(replayed.headers.traceparent?.split('-')[1]).toBe('0af7651916cd43dd8448eb211c80319c');
    // Replayed once: the dead letter is gone, a second replay finds nothing.
    expect(await outboxLetters.replay(h.db, [id])).toEqual({ replayed: [], missing: [id] });

    expect(await outboxLetters.replayMatching(h.db, { topic }, 10)).toMatchObject({ more: false });
    await waitFor('message 3', () => received.length === 3);
    expect(received.map((m) => m.id)).toEqual(['good-1', 'bad-1', 'bad-2']);
    expect((await outboxLetters.list(h.db, { limit: 10 })).deadLetters).toEqual([]);
    await relay.close();
  });

  it('refuses a cursor it did not issue', async () => {
    await expect(outboxLetters.list(h.db, { limit: 10, after: 'not-a-cursor' })).rejects.toMatchObject({
      code: 'CONCORD_INVALID_CURSOR',
    });
  });
});

describe('bus dead letters', () => {
  const letter = (group: string, messageId: string, topic: string) => ({
    group,
    messageId,
    topic,
    key: `key-${messageId}`,
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-own': 'yes' },
    payload: text(`payload:${messageId}`),
    errorCode: 'CONCORD_TEST_HANDLER',
    error: 'the handler gave up',
    attempts: 5,
  });

  it('keeps one row per group and message, and each service sees only its own groups', async () => {
    const topic = `t.${unique()}`;
    expect(await busLetters.record(h.db, letter('g1', 'm1', topic))).toBe(true);
    expect(await busLetters.record(h.db, letter('g1', 'm1', topic))).toBe(false);
    expect(await busLetters.record(h.db, letter('g2', 'm1', topic))).toBe(true);
    const mine = await busLetters.list(h.db, ['g1'], { limit: 10, filter: { topic } });
    expect(mine.deadLetters).toEqual([
      expect.objectContaining({
        group: 'g1',
        messageId: 'm1',
        topic,
        key: 'key-m1',
        errorCode: 'CONCORD_TEST_HANDLER',
        attempts: 5,
        payloadBytes: 10,
      }),
    ]);
    const both = await busLetters.list(h.db, ['g1', 'g2'], { limit: 10, filter: { topic, group: 'g2' } });
    expect(both.deadLetters.map((d) => d.group)).toEqual(['g2']);
    const other = both.deadLetters[0]?.id ?? '';
    expect(await busLetters.replay(h.db, ['g1'], [other])).toEqual({ replayed: [], missing: [other] });
  });

  it('replays a dead letter through the outbox to its original topic, trace context in its columns', async () => {
    const memory = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(memory, [topic]);
    await busLetters.record(h.db, letter('g1', 'r1', topic));
    await busLetters.record(h.db, letter('g1', 'r2', topic));
    const [a] = (await busLetters.list(h.db, ['g1'], { limit: 1, filter: { topic } })).deadLetters;
    await busLetters.replay(h.db, ['g1'], [a?.id ?? '']);
    const { rows } = await h.db.query<{ headers: object; traceparent: string }>(
      `SELECT headers, traceparent FROM concord.outbox WHERE message_id = 'r1'`,
    );
    expect(rows).toEqual([
      { headers: { 'x-own': 'yes' }, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    ]);
    h.relay(memory);
    await waitFor('message 1', () => received.length === 1);
    expect(received[0]).toMatchObject({ id: 'r1', key: 'key-r1', topic });
    expect(readText(received[0]?.payload ?? new Uint8Array())).toBe('payload:r1');

    const before = new Date(Date.now() + 60_000).toISOString();
    expect(await busLetters.replayMatching(h.db, ['g1'], { topic, before }, 1)).toMatchObject({ more: true });
    expect(await busLetters.replayMatching(h.db, ['g1'], { topic, before }, 1)).toEqual({
      replayed: [],
      more: false,
    });
    await waitFor('message 2', () => received.length === 2);
    expect(received[1]?.id).toBe('r2');
  });
});
