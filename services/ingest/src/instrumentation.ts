// Loaded before the app: `node --import ./dist/instrumentation.js dist/main.js`. Tracing is off unless
// OTEL_EXPORTER_OTLP_ENDPOINT is set; see @concord/telemetry for the variables it reads.
import { startTelemetry } from '@concord/telemetry';

startTelemetry({ serviceName: 'ingest' });
