/**
 * Whether OpenTelemetry is on, from the standard OTEL_* variables, checked
 * at start like every other setting. Only what decides whether (and how) the
 * SDK is loaded is read here; the SDK reads the rest itself (the endpoint's
 * URL and headers, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*,
 * OTEL_TRACES_SAMPLER), and those are checked here only so that a mistake
 * stops the server instead of being logged by the SDK and ignored. Nothing
 * is read while no endpoint is set: then the SDK is never loaded.
 */

export type OtlpProtocol = "http/protobuf" | "http/json";

export interface TelemetrySettings {
  /** Absent: no traces are exported. */
  traces?: { protocol: OtlpProtocol };
  /** Absent: no metrics are exported. */
  metrics?: { protocol: OtlpProtocol; intervalMs: number; timeoutMs?: number };
}

/** The OTEL_* variables the server reads itself (the README's Observability table lists exactly these). */
export const TELEMETRY_VARIABLES = [
  "OTEL_SDK_DISABLED",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
  "OTEL_TRACES_EXPORTER",
  "OTEL_METRICS_EXPORTER",
  "OTEL_METRIC_EXPORT_INTERVAL",
  "OTEL_METRIC_EXPORT_TIMEOUT",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_BSP_MAX_QUEUE_SIZE",
  "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  "OTEL_BSP_EXPORT_TIMEOUT",
] as const;

type Env = Readonly<Record<string, string | undefined>>;

const PROTOCOLS: readonly string[] = ["http/protobuf", "http/json"];
const SAMPLERS: readonly string[] = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];
const DEFAULT_METRIC_INTERVAL_MS = 60_000;

/** The settings, and one line per problem naming its variable (the server refuses to start on any). */
export function telemetrySettings(env: Env): { settings: TelemetrySettings; problems: string[] } {
  const problems: string[] = [];
  const value = (name: string) => {
    const raw = env[name]?.trim();
    return raw ? raw : undefined;
  };
  if (value("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return { settings: {}, problems };

  const endpoint = (name: string) => {
    const url = value(name);
    if (url !== undefined && !(URL.canParse(url) && /^https?:$/.test(new URL(url).protocol))) {
      problems.push(`${name}: must be an absolute http(s) URL (OTLP over HTTP)`);
    }
    return url;
  };
  const shared = endpoint("OTEL_EXPORTER_OTLP_ENDPOINT");
  const signal = (kind: "TRACES" | "METRICS") => {
    const own = endpoint(`OTEL_EXPORTER_OTLP_${kind}_ENDPOINT`);
    const exporter = value(`OTEL_${kind}_EXPORTER`);
    if (exporter !== undefined && exporter !== "otlp" && exporter !== "none") {
      problems.push(
        `OTEL_${kind}_EXPORTER: must be otlp or none (this server exports OTLP over HTTP only)`,
      );
    }
    if ((own ?? shared) === undefined || exporter === "none") return undefined;
    const name = `OTEL_EXPORTER_OTLP_${kind}_PROTOCOL`;
    const named = value(name) === undefined ? "OTEL_EXPORTER_OTLP_PROTOCOL" : name;
    const protocol = value(named) ?? "http/protobuf";
    if (!PROTOCOLS.includes(protocol)) {
      problems.push(`${named}: must be http/protobuf or http/json (gRPC is not supported here)`);
    }
    return { protocol: protocol as OtlpProtocol };
  };
  const traces = signal("TRACES");
  const metrics = signal("METRICS");
  if (!traces && !metrics) return { settings: {}, problems };

  const count = (name: string, min: number): number | undefined => {
    const raw = value(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${name}: must be a whole number of at least ${min}`);
      return undefined;
    }
    return n;
  };
  for (const name of [
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  ]) {
    count(name, name.endsWith("SIZE") ? 1 : 0);
  }
  const sampler = value("OTEL_TRACES_SAMPLER");
  if (sampler !== undefined && !SAMPLERS.includes(sampler)) {
    problems.push(`OTEL_TRACES_SAMPLER: must be one of ${SAMPLERS.join(", ")}`);
  }
  const ratio = value("OTEL_TRACES_SAMPLER_ARG");
  if (ratio !== undefined && sampler?.endsWith("traceidratio")) {
    const n = Number(ratio);
    if (!(n >= 0 && n <= 1)) problems.push("OTEL_TRACES_SAMPLER_ARG: must be a ratio from 0 to 1");
  }
  for (const name of ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES"]) {
    const pairs = value(name);
    if (pairs !== undefined && !pairs.split(",").every((pair) => /^[^=]+=.*$/.test(pair.trim()))) {
      problems.push(`${name}: must be comma-separated key=value pairs`);
    }
  }
  const intervalMs = count("OTEL_METRIC_EXPORT_INTERVAL", 1) ?? DEFAULT_METRIC_INTERVAL_MS;
  const timeoutMs = count("OTEL_METRIC_EXPORT_TIMEOUT", 1);
  if (timeoutMs !== undefined && timeoutMs > intervalMs) {
    problems.push(
      `OTEL_METRIC_EXPORT_TIMEOUT: must be at most OTEL_METRIC_EXPORT_INTERVAL (${intervalMs})`,
    );
  }
  return {
    settings: {
      ...(traces ? { traces } : {}),
      ...(metrics
        ? { metrics: { ...metrics, intervalMs, ...(timeoutMs === undefined ? {} : { timeoutMs }) } }
        : {}),
    },
    problems,
  };
}
