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
import { RandomIdGenerator, StackContextManager } from "@opentelemetry/sdk-trace";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import type { WorkflowBackend } from "../../workflows/backend.js";
import type { TelemetrySettings } from "../settings.js";
import type { ServiceInfo, Telemetry } from "../telemetry.js";
import { observeAnswers } from "./answers.js";
import { TracedBackend } from "./backend.js";
import { engineTelemetry } from "./engine.js";
import { ExportThread } from "./export-thread.js";
import { metricExporter, reportDiagnostics } from "./exporters.js";
import { instruments } from "./instruments.js";
import { Attr } from "./names.js";
import { renderTelemetry } from "./render.js";
import { httpRequests, messageTraces, traceOf, traceOfAuth } from "./request-trace.js";
import { samplerFromEnv } from "./sampling.js";
import { RequestSpans } from "./spans.js";
import { tokenTelemetry } from "./tokens.js";
import { traceparentOf } from "./traceparent.js";

/** The longest a stop waits for the last export. */
const SHUTDOWN_MS = 5_000;

/**
 * The OpenTelemetry SDK, its parts assembled (no auto-instrumentation): a
 * tracer provider whose batch span processor and OTLP/HTTP exporter
 * (protobuf or JSON) run on a thread of their own (export-thread.ts), a
 * meter provider with a periodic reader and the same
 * kind of exporter, W3C trace context and baggage. The exporters read their
 * endpoint, headers and timeouts from the OTEL_* variables; the provider
 * reads the sampler, the processor OTEL_BSP_*. Loaded only when an endpoint
 * is set (telemetry.ts).
 *
 * The request's path carries no context and makes no span while it is
 * served: it notes facts, and spans.ts makes its spans later, in batches
 * (README "What it costs"). AsyncLocalStorage makes every promise of the
 * process pay; it is used only with the Render backend, whose calls to
 * Render's API wait on the network and whose requests it makes children of
 * the backend call that made them. The embedded engine needs a context only
 * for the synchronous start of a run (its traceparent, for its attempts).
 */
export async function startSdk(
  settings: TelemetrySettings,
  service: ServiceInfo,
): Promise<Telemetry> {
  reportDiagnostics(diag);
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

  const exporting = settings.traces && new ExportThread(settings.traces.protocol, resource);
  const sampler = samplerFromEnv(process.env);
  const tracerProvider = exporting
    ? new BasicTracerProvider({ resource, sampler, spanProcessors: [exporting] })
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

  // Without metrics, the API's no-op meter; without traces, the request path records metrics only.
  const recorded = instruments(metrics.getMeter(service.name, service.version));
  const apiTracer = trace.getTracer(service.name, service.version);
  const spans = new RequestSpans(
    recorded,
    exporting && {
      exporting,
      sampler,
      ids: new RandomIdGenerator(),
      scope: { name: service.name, version: service.version },
    },
  );

  // One per backend (there is one): a call that traces nothing need not be wrapped for it.
  const countedBackends = new WeakMap<WorkflowBackend, WorkflowBackend>();
  const counted = (backend: WorkflowBackend) => {
    let wrapped = countedBackends.get(backend);
    if (!wrapped) {
      wrapped = new TracedBackend(backend, service.backend, recorded);
      countedBackends.set(backend, wrapped);
    }
    return wrapped;
  };

  return {
    requests: [httpRequests(spans)],
    messages(knownTools) {
      spans.knownTools = knownTools;
      return [messageTraces];
    },
    verification(req, verify) {
      const requestTrace = traceOf(req);
      if (!requestTrace) return verify(recorded.tokenVerified);
      requestTrace.verifyStart = performance.now();
      return verify((cache) => {
        recorded.tokenVerified(cache);
        requestTrace.verifyCache = cache;
      }).then(
        (result) => {
          requestTrace.verified();
          return result;
        },
        (error: unknown) => {
          const code = (error as { code?: unknown }).code;
          requestTrace.verified(typeof code === "string" ? code : "_OTHER");
          throw error;
        },
      );
    },
    authorization(req, index, decide) {
      const startTime = performance.now();
      const decision = decide();
      if (exporting) traceOf(req)?.messages[index]?.authorized(decision, startTime);
      return decision;
    },
    answered(req, response) {
      traceOf(req)?.answered(response);
    },
    observed: observeAnswers,
    traceIdOf: (req) => traceOf(req)?.traceId(),
    call(auth, id, backend) {
      const request = traceOfAuth(auth);
      const message = request?.message(id);
      // Metrics only (or no request of ours): the backend's calls are not steps; runs started are counted.
      if (!exporting || !request || !message) return { backend: counted(backend) };
      const identity = request.messageIdentity(message);
      return {
        ...(identity ? { traceId: identity.traceId } : {}),
        backend: new TracedBackend(backend, service.backend, recorded, request, message),
      };
    },
    traceparent: () => (exporting ? traceparentOf() : undefined),
    tokens: tokenTelemetry(apiTracer),
    engine: engineTelemetry(apiTracer, recorded),
    render: renderTelemetry(apiTracer, recorded),
    approvalRequest(status) {
      recorded.approvals.add(1, { [Attr.approvalStatus]: status });
    },
    async shutdown() {
      // Bounded: a receiver that does not answer must not hold up the stop.
      await Promise.race([
        Promise.resolve()
          .then(() => spans.flush())
          .then(() => Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()])),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_MS).unref()),
      ]);
    },
  };
}
