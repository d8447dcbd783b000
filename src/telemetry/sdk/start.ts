import { context, diag, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { StackContextManager } from "@opentelemetry/sdk-trace";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { OtlpProtocol, TelemetrySettings } from "../settings.js";
import type { ServiceInfo, Telemetry } from "../telemetry.js";
import { observeAnswers } from "./answers.js";
import { TracedBackend } from "./backend.js";
import { engineTelemetry } from "./engine.js";
import { instruments } from "./instruments.js";
import { Attr } from "./names.js";
import { renderTelemetry } from "./render.js";
import { httpRequests, messageSpans, traceIdOf, traceOf, traceOfAuth } from "./request-trace.js";
import { tokenTelemetry } from "./tokens.js";
import { traceparentOf } from "./traceparent.js";

/** The longest a stop waits for the last export. */
const SHUTDOWN_MS = 5_000;

/**
 * The OpenTelemetry SDK, its parts assembled (no auto-instrumentation): a
 * tracer provider with the batch span processor and the OTLP/HTTP exporter
 * (protobuf or JSON), a meter provider with a periodic reader and the same
 * kind of exporter, W3C trace context and baggage. The exporters read their
 * endpoint, headers and timeouts from the OTEL_* variables; the provider
 * reads the sampler, the processor OTEL_BSP_*. Loaded only when an endpoint
 * is set (telemetry.ts).
 *
 * Context is passed explicitly on the request's path (request-trace.ts):
 * AsyncLocalStorage makes every promise of the process pay (a tenth of the
 * throughput on the bench). It is used only with the Render backend, whose
 * calls to Render's API wait on the network and are paced far below what
 * the process could do, and whose requests it makes children of the call
 * that made them; the embedded engine needs a context only for the
 * synchronous start of a run (its traceparent, recorded for its attempts).
 */
export async function startSdk(
  settings: TelemetrySettings,
  service: ServiceInfo,
): Promise<Telemetry> {
  // The SDK's own diagnostics (an export that failed, …) go to stderr, one line each.
  const report = (message: string) => process.stderr.write(`opentelemetry: ${message}\n`);
  const quiet = () => {};
  diag.setLogger({ error: report, warn: report, info: quiet, debug: quiet, verbose: quiet });
  context.setGlobalContextManager(
    service.backend === "render"
      ? new AsyncLocalStorageContextManager().enable()
      : new StackContextManager().enable(),
  );
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({ "service.name": service.name, "service.version": service.version }),
    )
    .merge(detectResources({ detectors: [envDetector] }));

  const tracerProvider = settings.traces
    ? new BasicTracerProvider({
        resource,
        spanProcessors: [new BatchSpanProcessor(await traceExporter(settings.traces.protocol))],
      })
    : undefined;
  const meterProvider = settings.metrics
    ? new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: await metricExporter(settings.metrics.protocol),
            exportIntervalMillis: settings.metrics.intervalMs,
            ...(settings.metrics.timeoutMs === undefined
              ? {}
              : { exportTimeoutMillis: settings.metrics.timeoutMs }),
          }),
        ],
      })
    : undefined;
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);

  // Without traces there are no spans at all (metrics only); without metrics, the API's no-op meter.
  const tracer = tracerProvider?.getTracer(service.name, service.version);
  const recorded = instruments(metrics.getMeter(service.name, service.version));
  const apiTracer = trace.getTracer(service.name, service.version);

  return {
    requests: [httpRequests(tracer, recorded)],
    messages: (knownTools) => [messageSpans(tracer, recorded, knownTools)],
    async verification(req, verify) {
      const requestTrace = traceOf(req);
      const noted = requestTrace?.verifying();
      try {
        const result = await verify((cache) => {
          recorded.tokenVerified(cache);
          noted?.(cache);
        });
        requestTrace?.verified();
        return result;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        requestTrace?.verified(typeof code === "string" ? code : "_OTHER");
        throw error;
      }
    },
    authorization(req, index, decide) {
      const startTime = performance.now();
      const decision = decide();
      traceOf(req)?.messages[index]?.authorized(tracer, decision, startTime);
      return decision;
    },
    answered(req, response) {
      traceOf(req)?.answered(response);
    },
    observed: observeAnswers,
    traceIdOf: (req) => traceOf(req)?.traceId(),
    call(auth, id, backend) {
      const message = traceOfAuth(auth)?.message(id);
      if (!message) return { backend };
      const traceId = traceIdOf(message.span);
      return {
        ...(traceId === undefined ? {} : { traceId }),
        // Metrics only: the API's no-op tracer, so runs started are still counted.
        backend: new TracedBackend(
          backend,
          service.backend,
          message.context,
          tracer ?? apiTracer,
          recorded,
        ),
      };
    },
    traceparent: () => (tracer ? traceparentOf() : undefined),
    tokens: tokenTelemetry(apiTracer),
    engine: engineTelemetry(apiTracer, recorded),
    render: renderTelemetry(apiTracer, recorded),
    approvalRequest(status) {
      recorded.approvals.add(1, { [Attr.approvalStatus]: status });
    },
    async shutdown() {
      // Bounded: a receiver that does not answer must not hold up the stop.
      await Promise.race([
        Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_MS).unref()),
      ]);
    },
  };
}

/** Only the exporter the protocol names is loaded. */
async function traceExporter(protocol: OtlpProtocol) {
  return protocol === "http/json"
    ? new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter()
    : new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
}

async function metricExporter(protocol: OtlpProtocol) {
  return protocol === "http/json"
    ? new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter()
    : new (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter();
}
