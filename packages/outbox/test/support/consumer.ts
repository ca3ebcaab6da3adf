import type { IncomingMessage, MessageBus, Subscription } from '@concord/bus';
import { createInbox } from '../../src/index.js';
import type { Database } from '../../src/index.js';
import { readText } from '../helpers.js';

/**
 * A consumer whose effect is a per-key sequence check, recorded with the message id in the inbox in
 * one transaction: duplicates are counted and change nothing; a first delivery out of order is a
 * violation.
 */
export const sequenceConsumer = async (options: {
  db: Database;
  bus: MessageBus;
  topic: string;
  group: string;
}) => {
  const inbox = createInbox();
  const { db } = options;
  await db.exec(`CREATE TABLE IF NOT EXISTS public.effects (
    key text PRIMARY KEY, last_seq int NOT NULL, applied int NOT NULL)`);
  const counters = { handled: 0, duplicates: 0, violations: [] as string[] };
  const handler = async (message: IncomingMessage) => {
    const [key = '', n] = readText(message.payload).split(':');
    const seq = Number(n);
    const result = await db.withTransaction((tx) =>
      inbox.handle(tx, options.group, message.id, async (work) => {
        const { rows } = await work.query<{ last_seq: number }>(
          'SELECT last_seq FROM public.effects WHERE key = $1',
          [key],
        );
        const last = rows[0]?.last_seq ?? 0;
        if (seq !== last + 1) counters.violations.push(`${key}: got ${seq} after ${last}`);
        await work.query(
          `INSERT INTO public.effects (key, last_seq, applied) VALUES ($1, $2, 1)
           ON CONFLICT (key) DO UPDATE SET last_seq = $2, applied = public.effects.applied + 1`,
          [key, seq],
        );
      }),
    );
    if (result.duplicate) counters.duplicates += 1;
    else counters.handled += 1;
  };
  const subscription: Subscription = await options.bus.subscribe({
    group: options.group,
    topics: [options.topic],
    handler,
    concurrency: 32,
  });
  const applied = async () => {
    const { rows } = await db.query<{ n: number }>(
      'SELECT COALESCE(sum(applied), 0)::int AS n FROM public.effects',
    );
    return rows[0]?.n ?? 0;
  };
  return { counters, subscription, applied };
};
