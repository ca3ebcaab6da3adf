import { register as registerAsyncHooks } from 'node:module';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { register, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { INSTRUMENTED_MODULES, concordInstrumentations } from './instrumentations.js';
import { KeepExistingContextPropagator } from './propagator.js';
import { tracingEnabled } from './settings.js';
import type { TelemetryEnv } from './settings.js';

export interface TelemetryOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) names it. */
  readonly serviceName: string;
  /** Default `process.env`. */
  readonly env?: TelemetryEnv;
}

export interface Telemetry {
  readonly enabled: boolean;
  /** Exports what is buffered and stops; bounded by `timeoutMs`. Idempotent. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const DISABLED: Telemetry = { enabled: false, shutdown: () => Promise.resolve() };

/**
 * Starts the OpenTelemetry Node SDK for a service; call it from the service's `instrumentation.ts`,
 * loaded with `node --import` before the app. Everything else comes from the standard variables:
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (no endpoint: tracing off, nothing started), `OTEL_EXPORTER_OTLP_PROTOCOL`
 * (`http/protobuf` by default, `http/json`, `grpc`), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`. Spans leave through a batch processor,
 * so an unreachable collector costs dropped spans, never a slower or failing request. Only traces are
 * exported: metrics are Prometheus (`/metrics`), logs are pino JSON on stdout.
 */
export const startTelemetry = (options: TelemetryOptions): Telemetry => {
  const env = options.env ?? process.env;
  if (!tracingEnabled(env)) return DISABLED;

  hookEsmImports();
  const sdk = new NodeSDK({
    // Detected attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) override this default name.
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName })),
    textMapPropagator: new KeepExistingContextPropagator(
      new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      }),
    ),
    instrumentations: concordInstrumentations(),
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (timeoutMs = 2_000): Promise<void> => {
    stopping ??= Promise.race([
      sdk.shutdown().catch(() => undefined),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
    return stopping;
  };
  // The service's own SIGTERM handler drains and exits; flush what was recorded so far meanwhile.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown());
  }
  return { enabled: true, shutdown };
};

/**
 * The services are ES modules: `import pg from 'pg'` bypasses `require`, so the instrumentations' patches
 * need import-in-the-middle's loader hook, limited to the modules they patch.
 */
const hookEsmImports = (): void => {
  const include = [...INSTRUMENTED_MODULES];
  if (supportsSyncHooks()) register({ include });
  else registerAsyncHooks('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
};
