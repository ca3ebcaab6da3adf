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
  /** Attempts before the bus dead-letters a message the handler keeps failing. Default 5. */
  maxAttempts?: number;
}) => {
  const inbox = createInbox();
  const { db } = options;
  await db.exec(`CREATE TABLE IF NOT EXISTS public.effects (
    grp text NOT NULL, key text NOT NULL, last_seq int NOT NULL, applied int NOT NULL, PRIMARY KEY (grp, key))`);
  const counters = { handled: 0, duplicates: 0, violations: [] as string[] };
  const handler = async (message: IncomingMessage) => {
    const [key = '', n] = readText(message.payload).split(':');
    const seq = Number(n);
    const result = await db.withTransaction((tx) =>
      inbox.handle(tx, options.group, message.id, async (work) => {
        const { rows } = await work.query<{ last_seq: number }>(
          'SELECT last_seq FROM public.effects WHERE grp = $1 AND key = $2',
          [options.group, key],
        );
        const last = rows[0]?.last_seq ?? 0;
        if (seq !== last + 1) counters.violations.push(`${key}: got ${seq} after ${last}`);
        await work.query(
          `INSERT INTO public.effects (grp, key, last_seq, applied) VALUES ($1, $2, $3, 1)
           ON CONFLICT (grp, key) DO UPDATE SET last_seq = $3, applied = public.effects.applied + 1`,
          [options.group, key, seq],
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
    retry: { maxAttempts: options.maxAttempts ?? 5, initialDelayMs: 100, maxDelayMs: 2000 },
  });
  const applied = async () => {
    const { rows } = await db.query<{ n: number }>(
      'SELECT COALESCE(sum(applied), 0)::int AS n FROM public.effects WHERE grp = $1',
      [options.group],
    );
    return rows[0]?.n ?? 0;
  };
  return { counters, subscription, applied };
};
