import type { Logger } from '@concord/core';

export interface Closeable {
  readonly name: string;
  close(): Promise<void>;
}

export interface LifecycleOptions {
  readonly logger: Logger;
  /** How long in-flight work may drain after SIGTERM before the process gives up. */
  readonly graceMs: number;
  /** Called first: readiness goes 503 so load balancers stop sending work. */
  readonly markNotReady: () => void;
  /** Closed in order: consumers first, then servers, then clients, the database pool last. */
  readonly components: readonly Closeable[];
  readonly exit?: (code: number) => void;
  /** Signals that start the shutdown. Default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
}

/**
 * Wires SIGTERM/SIGINT to an orderly shutdown: not ready → stop consuming → drain within the grace
 * period → close clients (pool last) → exit 0, or exit 1 when the deadline passes or a close fails.
 */
export function onShutdown(options: LifecycleOptions): { shutdown: (signal: string) => Promise<void> } {
  let running: Promise<void> | undefined;
  const exit = options.exit ?? ((code: number) => process.exit(code));

  const shutdown = (signal: string): Promise<void> => {
    running ??= (async () => {
      options.logger.info({ signal, graceMs: options.graceMs }, 'shutting down');
      options.markNotReady();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), options.graceMs);
        timer.unref();
      });
      let closing: string | undefined;
      const closeAll = (async () => {
        let failed = false;
        for (const component of options.components) {
          closing = component.name;
          try {
            await component.close();
          } catch (error) {
            failed = true;
            options.logger.error({ err: error, component: component.name }, 'close failed');
          }
        }
        closing = undefined;
        return failed ? 'failed' : 'closed';
      })();
      const result = await Promise.race([closeAll, deadline]);
      clearTimeout(timer);
      if (result === 'closed') options.logger.info({}, 'shutdown complete');
      else options.logger.error({ result, closing }, 'shutdown did not complete cleanly');
      exit(result === 'closed' ? 0 : 1);
    })();
    return running;
  };

  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => void shutdown(signal));
  }
  return { shutdown };
}
