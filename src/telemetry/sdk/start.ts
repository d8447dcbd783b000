import {
  context,
  diag,
  metrics,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
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
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { OtlpProtocol, TelemetrySettings } from "../settings.js";
import type { ServiceInfo, Telemetry } from "../telemetry.js";
import { observeAnswers } from "./answers.js";
import { auditedWithTraceIds } from "./audit.js";
import { tracedBackend } from "./backend.js";
import { engineTelemetry } from "./engine.js";
import { httpRequests, messageSpans, traceIdOf, traceOf, traceOfAuth } from "./http-span.js";
import { instruments } from "./instruments.js";
import { Attr } from "./names.js";
import { renderTelemetry } from "./render.js";
import { tokenTelemetry } from "./tokens.js";
import { traceparentOf } from "./traceparent.js";

/**
 * The OpenTelemetry SDK, its parts assembled (no auto-instrumentation): a
 * tracer provider with the batch span processor and the OTLP/HTTP exporter
 * (protobuf or JSON), a meter provider with a periodic reader and the same
 * kind of exporter, W3C trace context and baggage, and the context kept by
 * AsyncLocalStorage. The exporters read their endpoint, headers and timeouts
 * from the OTEL_* variables; the provider reads the sampler, the processor
 * OTEL_BSP_*. Loaded only when an endpoint is set (telemetry.ts).
 */
export async function startSdk(
  settings: TelemetrySettings,
  service: ServiceInfo,
): Promise<Telemetry> {
  // The SDK's own diagnostics (an export that failed, …) go to stderr as one line each.
  diag.setLogger({
    error: (message) => process.stderr.write(`opentelemetry: ${message}\n`),
    warn: (message) => process.stderr.write(`opentelemetry: ${message}\n`),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
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
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);
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
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);

  // Without a provider these are the API's no-op tracer and meter.
  const tracer = trace.getTracer(service.name, service.version);
  const recorded = instruments(metrics.getMeter(service.name, service.version));
  const traceId = () => traceIdOf(trace.getActiveSpan());

  return {
    requests: [httpRequests(tracer, recorded)],
    messages: (knownTools) => [messageSpans(tracer, recorded, knownTools)],
    async verification(req, verify) {
      const parent = traceOf(req)?.context ?? context.active();
      const span = tracer.startSpan("verify token", { kind: SpanKind.INTERNAL }, parent);
      try {
        return await context.with(trace.setSpan(parent, span), verify);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        span.setAttribute(Attr.errorType, typeof code === "string" ? code : "_OTHER");
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
    authorization(req, index, decide) {
      const message = traceOf(req)?.messages[index];
      return message ? message.authorize(tracer, decide) : decide();
    },
    answered(req, response) {
      traceOf(req)?.message(response.id)?.answer(response);
    },
    observed: observeAnswers,
    inMessage(auth, id, handler) {
      const message = traceOfAuth(auth)?.message(id);
      return message ? context.with(message.context, handler) : handler();
    },
    traceId,
    traceparent: () => traceparentOf(),
    audited: (auditor) => auditedWithTraceIds(auditor, traceId),
    backend: (backend, kind) => tracedBackend(backend, kind, tracer, recorded),
    tokens: tokenTelemetry(tracer, recorded),
    engine: engineTelemetry(tracer, recorded),
    render: renderTelemetry(tracer, recorded),
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

/** The longest a stop waits for the last export. */
const SHUTDOWN_MS = 5_000;

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
