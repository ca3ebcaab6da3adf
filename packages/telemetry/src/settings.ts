/** What decides whether tracing runs, read from the standard `OTEL_*` variables. */
export interface TelemetryEnv {
  readonly OTEL_SDK_DISABLED?: string | undefined;
  readonly OTEL_TRACES_EXPORTER?: string | undefined;
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  readonly OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
}

const set = (value: string | undefined): boolean => value !== undefined && value.trim() !== '';

/**
 * Tracing runs when an OTLP endpoint is configured (or a non-OTLP exporter is named explicitly), unless
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Without an endpoint nothing is started: no
 * SDK, no hooks, no cost.
 */
export const tracingEnabled = (env: TelemetryEnv): boolean => {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (exporters.includes('none')) return false;
  if (exporters.some((name) => name !== 'otlp')) return true;
  return set(env.OTEL_EXPORTER_OTLP_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
};
