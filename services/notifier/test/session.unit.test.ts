import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { silentLogger } from '@concord/core';
import { Topics } from '@concord/core/messages';
import type { Database } from '@concord/outbox';
import { describe, expect, it } from 'vitest';
import { comparePositions, LOG_START } from '../src/store/log.js';
import type { LogEntry, LogPosition, NotificationLog } from '../src/store/log.js';
import type { NotificationFeed } from '../src/stream/feed.js';
import { createStreamSession } from '../src/stream/session.js';

const at = (id: number): LogPosition => ({ txId: '10', id: String(id) });

const entry = (id: number): LogEntry => ({
  position: at(id),
  notification: {
    id: String(id),
    kind: 'applied',
    topic: Topics.applied,
    messageId: `m-${id}`,
    createdAt: '2030-01-01T00:00:00.000Z',
    data: {},
  },
});

/** What a response received: the SSE text. */
const fakeResponse = () => {
  const emitter = new EventEmitter();
  const chunks: string[] = [];
  const response = Object.assign(emitter, {
    writableLength: 0,
    writableEnded: false,
    writableNeedDrain: false,
    destroy: () => {
      response.writableEnded = true;
    },
    writeHead: () => response,
    write: (text: string) => chunks.push(text) > 0,
    end: () => {
      response.writableEnded = true;
    },
  });
  return { response: response as unknown as ServerResponse, chunks };
};

/** A log of entries 1..n whose pruned position moves to `prunedTo` right after the first read. */
const pruningLog = (n: number, prunedTo: LogPosition): NotificationLog => {
  let pruned = LOG_START;
  let reads = 0;
  const log: Partial<NotificationLog> = {
    readAfter: (_sql, after, limit) => {
      const entries = Array.from({ length: n }, (_, i) => entry(i + 1))
        .filter((e) => comparePositions(e.position, after) > 0 && comparePositions(e.position, pruned) > 0)
        .slice(0, limit);
      reads += 1;
      if (reads === 1) pruned = prunedTo;
      return Promise.resolve(entries);
    },
    prunedThrough: () => Promise.resolve(pruned),
  };
  return log as NotificationLog;
};

const idleFeed: NotificationFeed = {
  start: () => Promise.resolve(),
  wake: () => undefined,
  subscribe: () => () => undefined,
  close: () => Promise.resolve(),
};

const sseEvents = (chunks: readonly string[]) =>
  chunks
    .join('')
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const line = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return `${line('event') ?? ''}#${line('id') ?? ''}`;
    });

describe('stream session and retention', () => {
  it('tells the client to resync when a prune overtakes its catch-up, and goes on after the pruned position', async () => {
    const { response, chunks } = fakeResponse();
    const session = createStreamSession({
      response,
      db: {} as Database,
      log: pruningLog(6, at(4)),
      feed: idleFeed,
      matches: () => true,
      from: at(1),
      heartbeatMs: 60_000,
      stallMs: 60_000,
      pageSize: 2,
      logger: silentLogger,
      onClose: () => undefined,
    });
    await session.run();
    session.close();
    // 2 and 3 were read before the prune; 4 went with it: the client is told, then gets 5 and 6.
    expect(sseEvents(chunks)).toEqual(['applied#2', 'applied#3', 'resync#4', 'applied#5', 'applied#6']);
  });
});
