import type { ServerResponse } from 'node:http';
import type { Logger } from '@concord/core';
import { unscopeJson } from '@concord/core/envelope';
import type { Database } from '@concord/outbox';
import { formatNotification } from '../cloudevent.js';
import type { NotificationFormat } from '../cloudevent.js';
import type { FilterMatcher } from '../filter.js';
import { filterSubjectOf } from '../notification.js';
import type { Notification } from '../notification.js';
import { comparePositions } from '../store/log.js';
import type { LogEntry, LogPosition, NotificationLog } from '../store/log.js';
import type { NotificationFeed } from './feed.js';
import { notifierErrors } from '../errors.js';

export interface StreamSessionOptions {
  readonly response: ServerResponse;
  readonly db: Database;
  readonly log: NotificationLog;
  readonly feed: NotificationFeed;
  readonly matches: FilterMatcher;
  /**
   * The caller's tenant (`undefined`: the default tenant): the stream shows only its notifications, with
   * their ids as it knows them (DESIGN §5 "Tenants").
   */
  readonly tenant?: string | undefined;
  /** Where the client resumes: its Last-Event-ID's position, or the log head for "from now". */
  readonly from: LogPosition;
  readonly heartbeatMs: number;
  /**
   * How long the client may leave the connection's send buffer full; then the stream is destroyed
   * (not ended: ending would keep what is buffered until the client reads it). It resumes with
   * Last-Event-ID.
   */
  readonly stallMs: number;
  /** What each event's `data:` holds: the notification (default), or it as a CloudEvent. */
  readonly format?: NotificationFormat;
  /** Log entries read at once while the stream catches up. Default 100. */
  readonly pageSize?: number;
  readonly logger: Logger;
  readonly onClose: () => void;
}

export interface StreamSession {
  run(): Promise<void>;
  close(): void;
}

/**
 * One SSE event: `id:` the log id, `event:` the kind, `data:` the notification as JSON, or as a
 * structured-mode CloudEvent.
 */
export const formatEvent = (notification: Notification, format: NotificationFormat = 'json'): string =>
  `id: ${notification.id}\nevent: ${notification.kind}\ndata: ${formatNotification(notification, format)}\n\n`;

/**
 * Tells the client that notifications after its position are gone (pruned by retention), so it must
 * reload the state it keeps from the API. Its `id` is the pruned position's, so a client that
 * reconnects after this event resumes from there without being told again.
 */
export const formatResync = (prunedThrough: LogPosition): string => {
  const data = {
    code: notifierErrors.STREAM_RESYNC_REQUIRED.code,
    message: 'notifications after Last-Event-ID were pruned; reload state, then continue with this stream',
    prunedThrough: prunedThrough.id,
  };
  return `id: ${prunedThrough.id}\nevent: resync\ndata: ${JSON.stringify(data)}\n\n`;
};

/**
 * One connected stream. What it holds is bounded whatever the client does: one page of the log and
 * the connection's send buffer (its high-water mark and the event that crossed it).
 *
 * It subscribes to the live feed first, then catches up from the log after its resume position, a
 * page at a time, until the log has nothing more. Once caught up, live entries are written as they
 * come. A write that fills the send buffer stops the stream writing until the buffer drains (past
 * `stallMs` the stream is destroyed); entries that arrive meanwhile are not kept — the stream catches
 * up on them from the log after the drain. Entries at or before its position are skipped, so neither
 * hand-over loses or repeats an event. When the log was pruned past where the stream reads — before a
 * catch-up, or during one of its reads — it sends a `resync` event and goes on from the pruned position.
 */
export const createStreamSession = (options: StreamSessionOptions): StreamSession => {
  const { response } = options;
  const pageSize = options.pageSize ?? 100;
  const format = options.format ?? 'json';
  const { tenant } = options;
  const scope = { tenant };
  let position = options.from;
  let sent = 0;
  let closed = false;
  /** The log holds entries after `position` that this stream has not been handed. */
  let behind = true;
  /** The running catch-up (or wait for a drain); live entries are left to it meanwhile. */
  let pumping: Promise<void> | undefined;
  let stopWaiting: (() => void) | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let unsubscribe: (() => void) | undefined;

  const finish = (reason: string, destroy: boolean) => {
    if (closed) return;
    closed = true;
    options.logger.info({ reason, sent, position: `${position.txId}/${position.id}` }, 'stream closed');
    if (heartbeat !== undefined) clearInterval(heartbeat);
    unsubscribe?.();
    if (destroy) response.destroy();
    else if (!response.writableEnded) response.end();
    stopWaiting?.();
    options.onClose();
  };

  /** Resolves when the send buffer has drained, or the stream closed (destroyed after `stallMs`). */
  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => finish('client not reading', true), options.stallMs);
      const done = () => {
        clearTimeout(timer);
        response.off('drain', done);
        stopWaiting = undefined;
        resolve();
      };
      stopWaiting = done;
      response.once('drain', done);
    });

  /** Writes `text`; when that fills the buffer, waits for it to drain. */
  const put = async (text: string) => {
    if (!response.write(text)) await drained();
  };

  /** The event of an entry this stream shows (its tenant's, matching the filter), else undefined. */
  const eventOf = (entry: LogEntry): string | undefined =>
    entry.tenant === tenant && options.matches(filterSubjectOf(entry.notification))
      ? formatEvent(unscopeJson(tenant, entry.notification), format)
      : undefined;

  /** Writes the entries after `position` that match, one drained buffer at a time. */
  const send = async (entries: readonly LogEntry[]) => {
    for (const entry of entries) {
      if (closed) return;
      if (comparePositions(entry.position, position) <= 0) continue;
      position = entry.position;
      const event = eventOf(entry);
      if (event === undefined) continue;
      sent += 1;
      await put(event);
    }
  };

  /** Sends `resync` when the log was pruned past `since` (the stream may have missed entries). */
  const resyncIfPrunedAfter = async (since: LogPosition) => {
    const pruned = await options.log.prunedThrough(options.db);
    if (closed || comparePositions(pruned, since) <= 0) return;
    options.logger.info({ since: `${since.txId}/${since.id}`, prunedThrough: pruned.id }, 'stream resync');
    if (comparePositions(pruned, position) > 0) position = pruned;
    await put(formatResync(pruned));
  };

  const pump = async (waitForDrain: boolean) => {
    try {
      if (waitForDrain) await drained();
      while (!closed && behind) {
        behind = false;
        await resyncIfPrunedAfter(position);
        for (;;) {
          if (closed) return;
          const before = position;
          const entries = await options.log.readAfter(options.db, position, pageSize, scope);
          await send(entries);
          // The pruned position only grows: not past `before` now, so not when the page was read.
          await resyncIfPrunedAfter(before);
          if (entries.length < pageSize) break;
        }
      }
    } catch (error) {
      options.logger.warn({ err: error }, 'stream catch-up failed; the client resumes with Last-Event-ID');
      finish('catch-up failed', false);
    } finally {
      pumping = undefined;
    }
  };

  /** The buffer is full: stop writing until it drains, then catch up on what came meanwhile. */
  const backOff = () => {
    pumping ??= pump(true);
  };

  const onLive = (entries: readonly LogEntry[]) => {
    if (closed) return;
    if (pumping !== undefined) {
      behind = true;
      return;
    }
    for (const entry of entries) {
      if (comparePositions(entry.position, position) <= 0) continue;
      position = entry.position;
      const event = eventOf(entry);
      if (event === undefined) continue;
      sent += 1;
      if (!response.write(event)) {
        behind = true;
        backOff();
        return;
      }
    }
  };

  return {
    async run() {
      options.logger.info({ from: `${position.txId}/${position.id}` }, 'stream opened');
      response.on('close', () => finish('client disconnected', false));
      unsubscribe = options.feed.subscribe(onLive, options.from);
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      response.write(': connected\nretry: 2000\n\n');
      heartbeat = setInterval(() => {
        if (closed || pumping !== undefined) return;
        if (!response.write(': heartbeat\n\n')) backOff();
      }, options.heartbeatMs);
      heartbeat.unref();
      pumping = pump(false);
      await pumping;
    },
    close() {
      // A client that is not reading keeps what was written until it reads: destroy, do not end.
      finish('server closing', response.writableNeedDrain);
    },
  };
};
