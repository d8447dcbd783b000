import type { DiagAPI } from "@opentelemetry/api";
import type { OtlpProtocol } from "../settings.js";

/** The SDK's own diagnostics (an export that failed, …) go to stderr, one line each. */
export function reportDiagnostics(diag: DiagAPI): void {
  const report = (message: string) => process.stderr.write(`opentelemetry: ${message}\n`);
  const quiet = () => {};
  diag.setLogger({ error: report, warn: report, info: quiet, debug: quiet, verbose: quiet });
}

/** Only the exporter the protocol names is loaded; each reads its OTEL_EXPORTER_OTLP_* variables. */
export async function traceExporter(protocol: OtlpProtocol) {
  return protocol === "http/json"
    ? new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter()
    : new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
}

export async function metricExporter(protocol: OtlpProtocol) {
  return protocol === "http/json"
    ? new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter()
    : new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter();
}
