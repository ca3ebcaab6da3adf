import { createWakeableLoop } from '@concord/bus';
import { silentLogger } from '@concord/core';
import type { Logger } from '@concord/core';
import type { Database, Unlisten } from '@concord/outbox';
import type { LogEntry, LogPosition, NotificationLog } from '../store/log.js';
import { LOG_START } from '../store/log.js';

export type FeedListener = (entries: readonly LogEntry[]) => void;

export interface NotificationFeed {
  start(): Promise<void>;
  /** A notification was committed in this process. */
  wake(): void;
  /**
   * Live entries in log order from now on; returns the unsubscribe function. `from` is where the
   * subscriber resumes: an idle feed (no subscriber) starts tailing there.
   */
  subscribe(listener: FeedListener, from: LogPosition): () => void;
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
 * connected it does nothing; the first stream to connect sets where it starts (that stream's resume
 * position: the stream catches up from there itself and skips what it has seen, so nothing is missed
 * and nothing repeated whatever the feed delivers after that position).
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
      if (listeners.size === 0) return false;
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
      await listen();
      loop.start();
    },
    wake: () => loop.wake(),
    subscribe(listener, from) {
      // A read running now started before this subscriber and moves `position` past what it read; the
      // subscriber's catch-up covers that range too, so the feed only must not start after `from`.
      if (listeners.size === 0) position = from;
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
