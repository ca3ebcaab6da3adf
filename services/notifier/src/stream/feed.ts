import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database, Unlisten } from '@concord/outbox';
import type { LogEntry, LogPosition, NotificationLog } from '../store/log.js';
import { LOG_START } from '../store/log.js';
import { createWakeableLoop } from '../wakeable-loop.js';

export type FeedListener = (entries: readonly LogEntry[]) => void;

export interface NotificationFeed {
  start(): Promise<void>;
  /** A notification was committed in this process. */
  wake(): void;
  /** Live entries in log order from now on; returns the unsubscribe function. */
  subscribe(listener: FeedListener): () => void;
  close(): Promise<void>;
}

export interface NotificationFeedOptions {
  readonly db: Database;
  readonly log: NotificationLog;
  /** NOTIFY channel of the log's insert trigger (wakes every replica). */
  readonly channel: string;
  readonly pollIntervalMs: number;
  readonly batchSize?: number;
  readonly logger?: Logger;
}

/**
 * The in-process hub of live notifications: one reader tails the log in (tx_id, id) order below the
 * snapshot's xmin and fans entries out to every connected stream. It is woken after a local commit,
 * by LISTEN/NOTIFY for commits on other replicas, and by polling as the fallback. With no stream
 * connected it only keeps its position at the head.
 */
export const createNotificationFeed = (options: NotificationFeedOptions): NotificationFeed => {
  const logger = (options.logger ?? silentLogger).child({ component: 'feed' });
  const batchSize = options.batchSize ?? 500;
  const listeners = new Set<FeedListener>();
  let position: LogPosition = LOG_START;
  let unlisten: Unlisten | undefined;
  let closed = false;
  let relistenTimer: ReturnType<typeof setTimeout> | undefined;

  const loop = createWakeableLoop({
    pollIntervalMs: options.pollIntervalMs,
    step: async () => {
      if (listeners.size === 0) {
        const head = await options.log.head(options.db);
        // A stream that subscribed meanwhile may have caught up only to a point before this head: moving
        // past it would skip the entries in between for that stream. Keep the older position then.
        if (listeners.size === 0) position = head;
        return false;
      }
      const entries = await options.log.readAfter(options.db, position, batchSize);
      const last = entries.at(-1);
      if (last === undefined) return false;
      position = last.position;
      for (const listener of listeners) {
        try {
          listener(entries);
        } catch (error) {
          logger.warn({ err: error }, 'stream listener failed');
        }
      }
      return entries.length === batchSize;
    },
    onError: (error, failures) => {
      if (failures === 1 || failures % 20 === 0)
        logger.warn({ err: error, failures }, 'reading the notification log failed');
    },
  });

  const listen = async (): Promise<void> => {
    if (closed) return;
    try {
      unlisten = await options.db.listen({
        channel: options.channel,
        onNotify: () => loop.wake(),
        onError: (error) => {
          logger.warn({ err: error }, 'notification LISTEN connection lost; polling until it is back');
          unlisten = undefined;
          relisten();
        },
      });
    } catch (error) {
      logger.warn({ err: error }, 'LISTEN failed; polling until it succeeds');
      relisten();
    }
  };
  const relisten = () => {
    if (closed || relistenTimer !== undefined) return;
    relistenTimer = setTimeout(() => {
      relistenTimer = undefined;
      void listen();
    }, 1_000);
    relistenTimer.unref();
  };

  return {
    async start() {
      position = await options.log.head(options.db);
      await listen();
      loop.start();
    },
    wake: () => loop.wake(),
    subscribe(listener) {
      listeners.add(listener);
      loop.wake();
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      closed = true;
      if (relistenTimer !== undefined) clearTimeout(relistenTimer);
      await loop.close();
      listeners.clear();
      await unlisten?.();
    },
  };
};
