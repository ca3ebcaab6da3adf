import { asClientError, clientErrors } from './errors.js';
import type { ConcordClientError } from './errors.js';
import { backoffDelay, pause } from './backoff.js';
import type { ConcordHttp } from './http.js';
import { readSse } from './sse.js';

export interface AutosyncOptions {
  /** Between syncs while the stream is down. Default 5 000 ms. */
  readonly pollIntervalMs: number;
  /** Between syncs while the stream is up (a safety net: the stream wakes a sync at once). Default 60 000 ms. */
  readonly idleSyncMs: number;
  /** Backoff with jitter while offline or failing: first ceiling and largest delay. Defaults 500 and 30 000 ms. */
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** For the jitter; default Math.random. */
  readonly random?: () => number;
}

export const DEFAULT_AUTOSYNC: AutosyncOptions = {
  pollIntervalMs: 5_000,
  idleSyncMs: 60_000,
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
};

export interface AutosyncDeps {
  readonly http: ConcordHttp;
  readonly sync: () => Promise<unknown>;
  readonly options: AutosyncOptions;
  readonly onStreaming: (streaming: boolean) => void;
  readonly onOnline: (online: boolean) => void;
  readonly onError: (error: ConcordClientError) => void;
}

/**
 * Autosync: a sync loop and a stream loop. The stream (`GET /v1/stream`, resumed with `Last-Event-ID`)
 * wakes a sync whenever the server tells of something; while it is down the sync loop polls. Failures
 * back off with jitter; a push-back (429/503) pauses both loops for the server's `Retry-After`, which
 * nothing cuts short.
 */
export class Autosync {
  #controller: AbortController | undefined;
  #loops: Promise<void>[] = [];
  #wanted = false;
  /** The last sync failed: the loop is backing off, and only news that the server is back cuts that short. */
  #failing = false;
  #wake: (() => void) | undefined;
  #streaming = false;
  #lastEventId: string | undefined;
  /** No request before this time (a push-back's Retry-After). */
  #pausedUntil = 0;

  constructor(private readonly deps: AutosyncDeps) {}

  get running(): boolean {
    return this.#controller !== undefined;
  }

  start(): void {
    if (this.#controller !== undefined) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.#wanted = true;
    this.#loops = [this.#syncLoop(controller.signal), this.#streamLoop(controller.signal)];
  }

  async stop(): Promise<void> {
    const controller = this.#controller;
    if (controller === undefined) return;
    this.#controller = undefined;
    controller.abort();
    this.#wake?.();
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  /**
   * Asks for a sync soon (a local change, a stream event). While syncs fail, only `serverIsBack` (the
   * stream answered) cuts the backoff short; nothing cuts a push-back short.
   */
  kick(serverIsBack = false): void {
    this.#wanted = true;
    if (!this.#failing || serverIsBack) this.#wake?.();
  }

  #pushedBack(error: ConcordClientError, fallbackMs: number): number {
    const wait = error.retryAfterMs ?? fallbackMs;
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + wait);
    return wait;
  }

  async #holdForPushBack(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && Date.now() < this.#pausedUntil)
      await pause(this.#pausedUntil - Date.now(), signal);
  }

  async #syncLoop(signal: AbortSignal): Promise<void> {
    const { options } = this.deps;
    let attempt = 0;
    while (!signal.aborted) {
      await this.#holdForPushBack(signal);
      if (signal.aborted) return;
      this.#wanted = false;
      let wait: number;
      try {
        await this.deps.sync();
        attempt = 0;
        this.#failing = false;
        if (this.#wanted) continue;
        wait = this.#streaming ? options.idleSyncMs : options.pollIntervalMs;
      } catch (thrown) {
        if (signal.aborted) return;
        this.#failing = true;
        const error = asClientError(thrown, clientErrors.CLIENT_STORE);
        this.deps.onError(error);
        const backoff = backoffDelay(attempt++, {
          initialMs: options.backoffInitialMs,
          maxMs: options.backoffMaxMs,
          ...(options.random === undefined ? {} : { random: options.random }),
        });
        if (error.code === clientErrors.CLIENT_PUSHED_BACK.code) wait = this.#pushedBack(error, backoff);
        else wait = error.retryable ? backoff : options.pollIntervalMs;
      }
      await pause(wait, signal, (resume) => {
        this.#wake = resume;
      });
      this.#wake = undefined;
    }
  }

  async #streamLoop(signal: AbortSignal): Promise<void> {
    const { options, http } = this.deps;
    let attempt = 0;
    while (!signal.aborted) {
      await this.#holdForPushBack(signal);
      if (signal.aborted) return;
      let wait: number;
      try {
        const body = await http.stream(this.#lastEventId, signal);
        this.#setStreaming(true);
        this.deps.onOnline(true);
        attempt = 0;
        this.kick(true);
        for await (const event of readSse(body)) {
          if (event.id !== undefined) this.#lastEventId = event.id;
          this.kick(true);
        }
        // The server ended the stream (a restart, a slow-reader cut): reconnect soon, never in a tight loop.
        wait = backoffDelay(0, {
          initialMs: options.backoffInitialMs,
          maxMs: options.backoffMaxMs,
          ...(options.random === undefined ? {} : { random: options.random }),
        });
      } catch (thrown) {
        if (signal.aborted) return;
        const error = asClientError(thrown, clientErrors.CLIENT_OFFLINE);
        if (error.code === clientErrors.CLIENT_OFFLINE.code) this.deps.onOnline(false);
        wait = backoffDelay(attempt++, {
          initialMs: options.backoffInitialMs,
          maxMs: options.backoffMaxMs,
          ...(options.random === undefined ? {} : { random: options.random }),
        });
        if (error.code === clientErrors.CLIENT_PUSHED_BACK.code) wait = this.#pushedBack(error, wait);
      }
      // The stream is down: the sync loop polls until it is back.
      this.#setStreaming(false);
      if (!this.#failing) this.#wake?.();
      await pause(wait, signal);
    }
  }

  #setStreaming(streaming: boolean): void {
    if (this.#streaming === streaming) return;
    this.#streaming = streaming;
    this.deps.onStreaming(streaming);
  }
}
