import type { Logger } from '@concord/core';
import type { FastifyInstance } from 'fastify';
import type { HttpAccess } from './access.js';
import type { HttpTimeouts, ReadinessCheck, RouteInfo } from './http.js';
import { createHttpServer } from './http.js';
import type { Closeable } from './lifecycle.js';
import { onShutdown } from './lifecycle.js';
import type { ServiceMetrics } from './metrics.js';

/**
 * One service's behaviour, independent of how it is deployed: its HTTP routes, its consumers and
 * background work. A standalone service runs one module; the all-in-one process runs all four on one
 * port. Modules receive their clients (database, bus, queues) as arguments; only composition roots
 * know concrete adapters.
 */
export interface ServiceModule {
  readonly name: string;
  /** Registers the module's routes (under `/v1/...`). */
  readonly routes?: (app: FastifyInstance) => void | Promise<void>;
  /** Readiness of what the module owns beyond the shared clients. */
  readonly checks?: readonly ReadinessCheck[];
  /** Starts consumers, relays and timers. */
  start(): Promise<void>;
  /** Stops taking work and drains what is in flight. Idempotent. */
  close(): Promise<void>;
}

export interface RunServiceOptions {
  readonly service: string;
  readonly port: number;
  readonly host?: string;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly modules: readonly ServiceModule[];
  /** Readiness of shared clients (database, broker). */
  readonly checks: readonly ReadinessCheck[];
  /** Shared clients, closed after the modules and the HTTP server, in order (database pool last). */
  readonly clients: readonly Closeable[];
  readonly bodyLimit?: number;
  /** Request and connection timeouts of the HTTP server (defaults: `DEFAULT_HTTP_TIMEOUTS`). */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
  /** Authentication, CORS and the rate limit (default: authentication off, a warning at start). */
  readonly access?: HttpAccess;
  readonly graceMs?: number;
  /** Wire SIGTERM/SIGINT to shutdown (default true; tests turn it off). */
  readonly handleSignals?: boolean;
  readonly exit?: (code: number) => void;
}

export interface RunningService {
  readonly url: string;
  readonly app: FastifyInstance;
  /** Every route and the scope it declares. */
  readonly routes: readonly RouteInfo[];
  /** The SIGTERM path: not ready → modules drain → HTTP closes → clients close → exit. */
  shutdown(): Promise<void>;
}

/** Starts a service: routes, listen, then modules; shutdown in the order DESIGN §7 gives. */
export async function runService(options: RunServiceOptions): Promise<RunningService> {
  // Not ready until every module has started: the server listens first (health and metrics answer
  // during a long start), but its consumers do not take work yet. (What is published meanwhile waits in
  // the queues the services declared at start, DESIGN §4.)
  let started = false;
  const checks = [
    ...options.checks,
    ...options.modules.flatMap((module) => module.checks ?? []),
    { name: 'modules', isReady: () => started },
  ];
  const http = createHttpServer({
    service: options.service,
    logger: options.logger,
    metrics: options.metrics,
    checks,
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    ...(options.httpTimeouts === undefined ? {} : { timeouts: options.httpTimeouts }),
    ...(options.access === undefined ? {} : { access: options.access }),
  });
  for (const module of options.modules) await module.routes?.(http.app);
  const host = options.host ?? '0.0.0.0';
  const url = await http.listen(options.port, host);
  logAccess(options.logger, options.access, host);
  for (const module of options.modules) await module.start();
  started = true;
  options.logger.info({ url, modules: options.modules.map((m) => m.name) }, 'service started');

  const components: Closeable[] = [
    ...options.modules.map((module) => ({ name: module.name, close: () => module.close() })),
    { name: 'http', close: () => http.close() },
    ...options.clients,
  ];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const lifecycle = {
    logger: options.logger,
    graceMs: options.graceMs ?? 10_000,
    markNotReady: () => http.markNotReady(),
    components,
    exit,
  };
  const { shutdown } =
    options.handleSignals === false ? onShutdown({ ...lifecycle, signals: [] }) : onShutdown(lifecycle);
  return { url, app: http.app, routes: http.routes(), shutdown: () => shutdown('shutdown') };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Says at start who may call: authentication off is a warning unless only this machine can reach the port. */
function logAccess(logger: Logger, access: HttpAccess | undefined, host: string): void {
  const methods = access?.authenticator?.methods;
  if (methods !== undefined) {
    logger.info(
      { auth: methods, host },
      'authentication on: every route but /healthz and /readyz needs a bearer token',
    );
  } else if (LOOPBACK.has(host)) {
    logger.info(
      { auth: 'off', host },
      `authentication off: listening on ${host} only, so only this machine can call (set CONCORD_AUTH_* to listen beyond it)`,
    );
  } else {
    logger.warn(
      { auth: 'off', host },
      `authentication off and listening on ${host}: every route is open to anyone who reaches the port (set CONCORD_AUTH_JWT_SECRET, CONCORD_AUTH_JWKS_URL or CONCORD_AUTH_API_KEYS_FILE)`,
    );
  }
}
