import type { ServerResponse } from 'node:http';
import type { Logger } from '@concord/core';
import type { Database } from '@concord/outbox';
import type { FilterMatcher } from '../filter.js';
import type { Notification } from '../notification.js';
import { comparePositions } from '../store/log.js';
import type { LogEntry, LogPosition, NotificationLog } from '../store/log.js';
import type { NotificationFeed } from './feed.js';

export interface StreamSessionOptions {
  readonly response: ServerResponse;
  readonly db: Database;
  readonly log: NotificationLog;
  readonly feed: NotificationFeed;
  readonly matches: FilterMatcher;
  /** Where the client resumes: its Last-Event-ID's position, or the log head for "from now". */
  readonly from: LogPosition;
  readonly heartbeatMs: number;
  /** Close a client that lets this many bytes pile up unread (it resumes with Last-Event-ID). */
  readonly maxBufferedBytes: number;
  readonly catchUpBatch?: number;
  readonly logger: Logger;
  readonly onClose: () => void;
}

export interface StreamSession {
  run(): Promise<void>;
  close(): void;
}

/** One SSE event: `id:` the log id, `event:` the kind, `data:` the notification as JSON. */
export const formatEvent = (notification: Notification): string =>
  `id: ${notification.id}\nevent: ${notification.kind}\ndata: ${JSON.stringify(notification)}\n\n`;

/** The code of the `resync` event: notifications after the client's position were pruned. */
export const STREAM_RESYNC_CODE = 'CONCORD_STREAM_RESYNC_REQUIRED';

/**
 * Tells the client that notifications after its position are gone (pruned by retention), so it must
 * reload the state it keeps from the API. Its `id` is the pruned position's, so a client that
 * reconnects after this event resumes from there without being told again.
 */
export const formatResync = (prunedThrough: LogPosition): string => {
  const data = {
    code: STREAM_RESYNC_CODE,
    message: 'notifications after Last-Event-ID were pruned; reload state, then continue with this stream',
    prunedThrough: prunedThrough.id,
  };
  return `id: ${prunedThrough.id}\nevent: resync\ndata: ${JSON.stringify(data)}\n\n`;
};

/**
 * One connected stream. It subscribes to the live feed first (buffering), then catches up from the
 * log after its resume position until the log has nothing more, then drains the buffer; entries at or
 * before its position are skipped, so the hand-over neither loses nor repeats an event. When the log
 * was pruned past where the stream reads — before the catch-up, or during one of its reads — it sends a
 * `resync` event and goes on from the pruned position.
 */
export const createStreamSession = (options: StreamSessionOptions): StreamSession => {
  const { response } = options;
  const batch = options.catchUpBatch ?? 500;
  let position = options.from;
  let sent = 0;
  let live = false;
  let closed = false;
  const buffered: LogEntry[] = [];
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let unsubscribe: (() => void) | undefined;

  const close = (reason: string) => {
    if (closed) return;
    closed = true;
    options.logger.info({ reason, sent, position: `${position.txId}/${position.id}` }, 'stream closed');
    if (heartbeat !== undefined) clearInterval(heartbeat);
    unsubscribe?.();
    buffered.length = 0;
    if (!response.writableEnded) response.end();
    options.onClose();
  };

  const write = (text: string) => {
    if (closed) return;
    response.write(text);
    if (response.writableLength > options.maxBufferedBytes) close('client not reading');
  };

  const emit = (entries: readonly LogEntry[]) => {
    for (const entry of entries) {
      if (closed) return;
      if (comparePositions(entry.position, position) <= 0) continue;
      position = entry.position;
      if (!options.matches(entry.notification)) continue;
      write(formatEvent(entry.notification));
      sent += 1;
    }
  };

  /** Sends `resync` when the log was pruned past `since` (the stream may have missed entries). */
  const resyncIfPrunedAfter = async (since: LogPosition) => {
    const pruned = await options.log.prunedThrough(options.db);
    if (closed || comparePositions(pruned, since) <= 0) return;
    options.logger.info({ since: `${since.txId}/${since.id}`, prunedThrough: pruned.id }, 'stream resync');
    write(formatResync(pruned));
    if (comparePositions(pruned, position) > 0) position = pruned;
  };

  return {
    async run() {
      options.logger.info({ from: `${position.txId}/${position.id}` }, 'stream opened');
      response.on('close', () => close('client disconnected'));
      unsubscribe = options.feed.subscribe((entries) => {
        if (live) emit(entries);
        else buffered.push(...entries);
      }, options.from);
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      write(': connected\nretry: 2000\n\n');
      heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs);
      heartbeat.unref();
      try {
        await resyncIfPrunedAfter(position);
        for (;;) {
          if (closed) return;
          const before = position;
          const entries = await options.log.readAfter(options.db, position, batch);
          emit(entries);
          // The pruned position only grows: not past `before` now, so not when the batch was read.
          await resyncIfPrunedAfter(before);
          if (entries.length < batch) break;
        }
      } catch (error) {
        options.logger.warn({ err: error }, 'stream catch-up failed; the client resumes with Last-Event-ID');
        close('catch-up failed');
        return;
      }
      emit(buffered.splice(0));
      live = true;
    },
    close: () => close('server closing'),
  };
};
