import { createBusDeadLetterStore, createOutboxDeadLetterStore } from '@concord/outbox';
import type { Database } from '@concord/outbox';
import type { DeadLetterSource } from './types.js';

/** The outbox's dead letters of the database (`outbox_dead_letters`): every row the relay gave up on. */
export const outboxDeadLetterSource = (options: { db: Database; schema?: string }): DeadLetterSource => {
  const store = createOutboxDeadLetterStore(options.schema === undefined ? {} : { schema: options.schema });
  const { db } = options;
  return {
    kind: 'outbox',
    filters: ['topic', 'errorCode', 'before'],
    async list({ limit, after, filter }) {
      const page = await store.list(db, { limit, filter, ...(after === undefined ? {} : { after }) });
      return {
        deadLetters: page.deadLetters.map((letter) => ({ kind: 'outbox', ...letter })),
        next: page.next,
      };
    },
    async replay(ids) {
      return { ...(await store.replay(db, ids)), refused: [] };
    },
    replayMatching: (filter, limit) => store.replayMatching(db, filter, limit),
  };
};

/** The bus's dead letters of `groups` (`bus_dead_letters`, recorded by {@link createDeadLetterCollector}). */
export const busDeadLetterSource = (options: {
  db: Database;
  schema?: string;
  groups: readonly string[];
}): DeadLetterSource => {
  const store = createBusDeadLetterStore(options.schema === undefined ? {} : { schema: options.schema });
  const { db, groups } = options;
  return {
    kind: 'bus',
    filters: ['topic', 'group', 'errorCode', 'before'],
    async list({ limit, after, filter }) {
      const page = await store.list(db, groups, { limit, filter, ...(after === undefined ? {} : { after }) });
      return {
        deadLetters: page.deadLetters.map((letter) => ({ kind: 'bus', ...letter })),
        next: page.next,
      };
    },
    async replay(ids) {
      return { ...(await store.replay(db, groups, ids)), refused: [] };
    },
    replayMatching: (filter, limit) => store.replayMatching(db, groups, filter, limit),
  };
};
