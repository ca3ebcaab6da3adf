/**
 * Settling published rows: the per-partition watermarks (the mark function and the relay moving them)
 * and the cleanup of settled rows after the retention period.
 */
import { createMemoryBus } from '@concord/bus';
import { describe, expect, it } from 'vitest';
import { createOutbox } from '../src/index.js';
import { collect, text, unique, waitFor, writeMessages } from './helpers.js';
import { useRelayHarness } from './support/relay-harness.js';

const h = useRelayHarness();
const outbox = createOutbox();

describe('relay settling', () => {
  it('moves a watermark only under the current fence, only forwards, and never past a key waiting for a retry', async () => {
    await h.db.withTransaction((tx) =>
      outbox.add(tx, [
        { topic: 'w', key: 'k1', payload: text('1') },
        { topic: 'w', key: 'k1', payload: text('2') },
        { topic: 'w', key: 'k1', payload: text('3') },
      ]),
    );
    const { rows: written } = await h.db.query<{ id: string; tx_id: string; key_partition: number }>(
      'SELECT id::text, tx_id::text, key_partition FROM concord.outbox ORDER BY id',
    );
    const [first, second, third] = written;
    if (first === undefined || second === undefined || third === undefined) throw new Error('rows missing');
    const p = first.key_partition;
    await h.db.query(
      `UPDATE concord.outbox_leases SET owner = 'w', fence = fence + 1, expires_at = now() + interval '1 minute'
       WHERE key_partition = $1`,
      [p],
    );
    const fence = (
      await h.db.query<{ fence: string }>(
        'SELECT fence::text FROM concord.outbox_leases WHERE key_partition = $1',
        [p],
      )
    ).rows[0]?.fence;
    const mark = async (ids: string[], markFence: string, upto: { tx_id: string; id: string } | null) => {
      const { rows } = await h.db.query<{ marked: number; valid: number[] }>(
        'SELECT marked, valid FROM concord.outbox_mark_published($1::bigint[], $2::int[], $3::bigint[], $4, $5::text::xid8, $6::bigint)',
        [ids, [p], [markFence], 'w', upto?.tx_id ?? null, upto?.id ?? null],
      );
      return rows[0];
    };
    const watermark = async () =>
      (
        await h.db.query<{ id: string }>(
          'SELECT published_id::text AS id FROM concord.outbox_leases WHERE key_partition = $1',
          [p],
        )
      ).rows[0]?.id;
    const pending = async () =>
      (await h.db.query<{ pending: number }>('SELECT pending FROM concord.outbox_backlog()')).rows[0]
        ?.pending;
    try {
      const before = await watermark();
      // A stale fence settles nothing.
      expect(await mark([first.id], String(BigInt(fence ?? '0') - 1n), first)).toEqual({
        marked: 0,
        valid: [],
      });
      expect(await watermark()).toBe(before);
      // The current fence moves the watermark; a lower position later does not move it back.
      expect(await mark([first.id, second.id], fence ?? '', second)).toEqual({ marked: 0, valid: [p] });
      expect(await watermark()).toBe(second.id);
      expect(await mark([first.id], fence ?? '', first)).toEqual({ marked: 0, valid: [p] });
      expect(await watermark()).toBe(second.id);
      expect(await pending()).toBe(1);
      // A row of the partition waits for a retry: the watermark stays, rows are marked one by one.
      await h.db.query(
        `UPDATE concord.outbox SET next_attempt_at = now() + interval '1 hour' WHERE id = $1`,
        [third.id],
      );
      await h.db.withTransaction((tx) => outbox.add(tx, [{ topic: 'w', key: 'k1', payload: text('4') }]));
      const fourth = (
        await h.db.query<{ id: string; tx_id: string }>(
          'SELECT id::text, tx_id::text FROM concord.outbox ORDER BY id DESC LIMIT 1',
        )
      ).rows[0];
      if (fourth === undefined) throw new Error('row missing');
      expect(await mark([fourth.id], fence ?? '', fourth)).toEqual({ marked: 1, valid: [p] });
      expect(await watermark()).toBe(second.id);
      expect(await pending()).toBe(1);
      // Once the waiting row itself goes through, the watermark moves past it, and the row is settled
      // itself: left waiting below the watermark, it would hold the partition back for good.
      expect(await mark([third.id], fence ?? '', fourth)).toEqual({ marked: 1, valid: [p] });
      expect(await watermark()).toBe(fourth.id);
      expect(await pending()).toBe(0);
      const { rows: waiting } = await h.db.query(
        'SELECT id FROM concord.outbox WHERE published_at IS NULL AND next_attempt_at IS NOT NULL',
      );
      expect(waiting).toEqual([]);
    } finally {
      await h.db.query(
        `UPDATE concord.outbox_leases SET owner = NULL, expires_at = '-infinity' WHERE key_partition = $1`,
        [p],
      );
    }
  });

  it('moves the watermarks of partitions that get no rows up to what the reads have seen', async () => {
    const bus = h.track(createMemoryBus());
    // Another (live) relay holds every partition but 0; this relay gets partition 0 alone.
    await h.db.query(
      `UPDATE concord.outbox_leases SET owner = 'elsewhere', expires_at = now() + interval '1 hour'
       WHERE key_partition <> 0`,
    );
    try {
      const r = h.relay(bus);
      await waitFor('partition 0', async () => (await r.stats()).partitions.join() === '0');
      const { rows: keys } = await h.db.query<{ key: string }>(
        `SELECT k AS key FROM (SELECT 'q' || n AS k FROM generate_series(1, 50) n) keys
         WHERE (hashtextextended(k, 0) & 2147483647) % 16 <> 0`,
      );
      await h.db.withTransaction((tx) =>
        outbox.add(
          tx,
          keys.map(({ key }) => ({ topic: 'elsewhere', key, payload: text(key) })),
        ),
      );
      const last = (await h.db.query<{ id: string }>('SELECT max(id)::text AS id FROM concord.outbox'))
        .rows[0]?.id;
      await waitFor('watermark of partition 0 moved', async () => {
        const { rows } = await h.db.query<{ id: string }>(
          'SELECT published_id::text AS id FROM concord.outbox_leases WHERE key_partition = 0',
        );
        return BigInt(rows[0]?.id ?? '0') >= BigInt(last ?? '1');
      });
    } finally {
      await h.db.query(
        `UPDATE concord.outbox_leases SET owner = NULL, expires_at = '-infinity' WHERE owner = 'elsewhere'`,
      );
    }
  });

  it('deletes published rows after the retention period', async () => {
    const bus = h.track(createMemoryBus());
    const topic = `t.${unique()}`;
    const { received } = await collect(bus, [topic]);
    await writeMessages({ db: h.db, outbox, topic, count: 20, keys: 2 });
    h.relay(bus, { retentionMs: 0, cleanupIntervalMs: 50 });
    await waitFor('delivered', () => received.length === 20);
    await waitFor('cleaned', async () => {
      const { rows } = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM concord.outbox');
      return rows[0]?.n === 0;
    });
  });
});
