import { Writable } from 'node:stream';
import { backoffDelay } from '@concord/core';
import type { Logger } from '@concord/core';
import { connect } from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { retryBackoff } from '../consumer/backoff.js';
import { busUnavailableError } from '../errors.js';
import { sleep } from '../timers.js';
import type { Timers } from '../timers.js';

export interface ConnectionOptions {
  readonly url: string;
  readonly connectionName: string;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly random: () => number;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** Sets up channels on a fresh connection; if it throws, the connection is dropped and retried. */
  readonly onConnected: (connection: ChannelModel) => Promise<void>;
  readonly onDisconnected: () => void;
  readonly onBlocked: (blocked: boolean) => void;
}

/**
 * Keeps one AMQP connection up: connects with exponential backoff and full jitter, and after an
 * unexpected close (broker restart, network) reconnects the same way and runs `onConnected` again.
 */
export class RabbitConnection {
  readonly #options: ConnectionOptions;
  readonly #stop = new AbortController();
  #connection: ChannelModel | undefined;
  #reconnecting = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  get connected(): boolean {
    return this.#connection !== undefined;
  }

  /** The first connection; retries until `timeoutMs` passes, then rejects `CONCORD_BUS_UNAVAILABLE`. */
  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (let attempt = 1; Date.now() < deadline && !this.#stop.signal.aborted; attempt += 1) {
      try {
        await this.#open();
        return;
      } catch (error) {
        lastError = error;
        this.#options.logger.warn({ err: error, attempt }, 'RabbitMQ connection failed; retrying');
        await this.#pause(attempt);
      }
    }
    throw busUnavailableError(`Could not connect to RabbitMQ within ${timeoutMs} ms`, lastError);
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    this.#stop.abort();
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection === undefined) return;
    try {
      await connection.close();
    } catch (error) {
      this.#options.logger.debug({ err: error }, 'closing an already closed RabbitMQ connection');
    }
  }

  async #open(): Promise<void> {
    const connection = await connect(this.#options.url, {
      clientProperties: { connection_name: this.#options.connectionName },
      // No Nagle: amqplib leaves it on, so a publish written while an earlier write (an ack, say) was
      // not yet acknowledged by the peer waited for the broker's delayed ACK, up to 40 ms. Writes of a
      // tick already leave together (coalesceWrites).
      noDelay: true,
    });
    coalesceWrites(connection);
    connection.on('error', (error: unknown) =>
      this.#options.logger.warn({ err: error }, 'RabbitMQ connection error'),
    );
    connection.on('blocked', (reason: unknown) => {
      this.#options.logger.warn({ reason }, 'RabbitMQ blocked publishing (resource alarm)');
      this.#options.onBlocked(true);
    });
    connection.on('unblocked', () => {
      this.#options.logger.info({}, 'RabbitMQ unblocked publishing');
      this.#options.onBlocked(false);
    });
    let closed = false;
    connection.on('close', () => {
      closed = true;
      this.#lost(connection);
    });
    try {
      await this.#options.onConnected(connection);
      if (closed) throw new Error('RabbitMQ connection closed while setting up channels');
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    if (this.#stop.signal.aborted) {
      await connection.close().catch(() => undefined);
      return;
    }
    this.#connection = connection;
  }

  #lost(connection: ChannelModel): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#options.onDisconnected();
    if (this.#stop.signal.aborted) return;
    this.#options.logger.warn({}, 'RabbitMQ connection lost; reconnecting');
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    void this.#reconnect().finally(() => {
      this.#reconnecting = false;
    });
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 1; !this.#stop.signal.aborted; attempt += 1) {
      await this.#pause(attempt);
      if (this.#stop.signal.aborted) return;
      try {
        await this.#open();
        this.#options.logger.info({ attempt }, 'RabbitMQ reconnected');
        return;
      } catch (error) {
        this.#options.logger.debug({ err: error, attempt }, 'RabbitMQ reconnect failed');
      }
    }
  }

  /** Drops the current connection (e.g. its publisher channel died) so that the reconnect loop takes over. */
  recycle(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    connection.close().catch(() => this.#lost(connection));
  }

  #pause(attempt: number): Promise<void> {
    const { reconnect } = this.#options;
    const delay = Math.max(
      reconnect.initialDelayMs,
      backoffDelay(attempt, retryBackoff(reconnect), this.#options.random),
    );
    return sleep(this.#options.timers, delay, this.#stop.signal);
  }
}

/**
 * amqplib hands the socket every frame (a publish, an ack) as a write of its own, and each became a
 * `send()` of its own: ~5 µs of CPU per message here, and as many TCP segments for the broker to read.
 * The socket is corked at the first write of a tick and uncorked once the tick's synchronous work is
 * done, so the frames written in one go (a batch of publishes, the acks of a committed batch) leave
 * in one `writev`. Nothing waits for a timer: the data goes out before the event loop turns.
 */
export const coalesceWrites = (connection: ChannelModel): boolean => {
  const socket = (connection as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!(socket instanceof Writable)) return false;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof socket.write;
  return true;
};
