/**
 * The export thread (export-thread.ts starts it): the OpenTelemetry batch
 * span processor and OTLP/HTTP exporter, fed the spans the serving thread
 * ended. They read the same OTEL_* variables here (OTEL_BSP_*, the
 * endpoint, headers, timeouts); failures are reported on stderr as on the
 * serving thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { diag } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { OtlpProtocol } from "../settings.js";
import type { SpanBatch, ToExportThread } from "./export-thread.js";
import { reportDiagnostics, traceExporter } from "./exporters.js";
import { fromRecord } from "./span-record.js";

const { protocol, resource: attributes } = workerData as {
  protocol: OtlpProtocol;
  resource: Record<string, string | number | boolean>;
};
reportDiagnostics(diag);
const resource = resourceFromAttributes(attributes);
const port = parentPort;
if (!port) throw new Error("export-worker.js runs as a worker thread (export-thread.ts)");
// Listening at once, handling in order once the exporter is loaded.
const loaded = traceExporter(protocol).then((exporter) => new BatchSpanProcessor(exporter));

port.on("message", (message: ToExportThread) => {
  void loaded.then((processor) => handle(processor, message));
});

function handle(processor: BatchSpanProcessor, message: ToExportThread): void {
  switch (message.type) {
    case "spans": {
      const { scopes, spans } = JSON.parse(message.batch) as SpanBatch;
      for (const record of spans) processor.onEnd(fromRecord(record, resource, scopes));
      port?.postMessage({ type: "taken", count: spans.length });
      return;
    }
    case "flush":
    case "shutdown":
      (message.type === "flush" ? processor.forceFlush() : processor.shutdown()).then(
        () => port?.postMessage({ type: "done", id: message.id }),
        (error: unknown) => {
          diag.error(`span export failed: ${String(error)}`);
          port?.postMessage({ type: "done", id: message.id });
        },
      );
      return;
  }
}
