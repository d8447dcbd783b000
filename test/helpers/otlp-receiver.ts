import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import protos from "otlp-protos/build/src/generated/root.js";

/**
 * A real OTLP/HTTP receiver on loopback, as a collector would be: it takes
 * what the server's exporters POST to /v1/traces and /v1/metrics, in
 * protobuf (decoded with the OTLP proto definitions the OpenTelemetry
 * packages ship) or in JSON, and keeps the spans and metric points, each
 * normalised to one shape (ids in hex, attributes as plain values).
 */

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  links: { traceId: string; spanId: string }[];
  resource: Record<string, unknown>;
}

export interface ReceivedPoint {
  metric: string;
  unit: string;
  attributes: Record<string, unknown>;
  /** A sum's or a gauge's value; a histogram's count. */
  value: number;
  /** A histogram's sum and bucket boundaries. */
  sum?: number;
  bounds?: number[];
}

export interface OtlpReceiver {
  /** http://127.0.0.1:PORT: what OTEL_EXPORTER_OTLP_ENDPOINT names. */
  url: string;
  spans: ReceivedSpan[];
  points: ReceivedPoint[];
  /** Every export received: path and Content-Type. */
  exports: { path: string; contentType: string }[];
  /** Resolves once `predicate` holds of what was received (polling), or rejects after `ms`. */
  until(predicate: () => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** The generated message classes used here (the package types its root as a bare protobufjs Root). */
interface Codec {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: object): Json;
}
const { collector } = (
  protos as unknown as {
    opentelemetry: {
      proto: {
        collector: {
          trace: { v1: { ExportTraceServiceRequest: Codec } };
          metrics: { v1: { ExportMetricsServiceRequest: Codec } };
        };
      };
    };
  }
).opentelemetry.proto;
const { ExportTraceServiceRequest } = collector.trace.v1;
const { ExportMetricsServiceRequest } = collector.metrics.v1;
const AS_OBJECT = { longs: Number, bytes: String, defaults: false, arrays: true } as const;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  const exports: OtlpReceiver["exports"] = [];
  const server = createServer(async (req, res) => {
    const body = await read(req);
    const contentType = req.headers["content-type"] ?? "";
    exports.push({ path: req.url ?? "", contentType });
    const json = contentType.includes("json");
    if (req.url === "/v1/traces") {
      const request = json
        ? JSON.parse(body.toString("utf8"))
        : ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), AS_OBJECT);
      spans.push(...spansOf(request, json));
    } else if (req.url === "/v1/metrics") {
      const request = json
        ? JSON.parse(body.toString("utf8"))
        : ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(body), AS_OBJECT);
      points.push(...pointsOf(request));
    }
    res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
    res.end(json ? "{}" : "");
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    points,
    exports,
    async until(predicate, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error("the receiver did not get what was expected");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function read(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

type Json = Record<string, unknown>;
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

/** Ids are hex in OTLP/JSON, bytes (base64 here) in protobuf. */
const hex = (value: unknown, json: boolean): string =>
  typeof value !== "string" ? "" : json ? value : Buffer.from(value, "base64").toString("hex");

function plainValue(value: Json | undefined): unknown {
  if (!value) return undefined;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("doubleValue" in value) return Number(value.doubleValue);
  if ("arrayValue" in value) {
    return list((value.arrayValue as Json | undefined)?.values).map((v) => plainValue(v));
  }
  return undefined;
}

const attributesOf = (attributes: unknown): Record<string, unknown> =>
  Object.fromEntries(list(attributes).map((a) => [a.key, plainValue(a.value as Json | undefined)]));

function spansOf(request: Json, json: boolean): ReceivedSpan[] {
  return list(request.resourceSpans).flatMap((resourceSpans) => {
    const resource = attributesOf((resourceSpans.resource as Json | undefined)?.attributes);
    return list(resourceSpans.scopeSpans).flatMap((scope) =>
      list(scope.spans).map((span) => ({
        traceId: hex(span.traceId, json),
        spanId: hex(span.spanId, json),
        parentSpanId: hex(span.parentSpanId, json),
        name: String(span.name),
        kind: Number(span.kind ?? 0),
        attributes: attributesOf(span.attributes),
        status: {
          code: Number((span.status as Json | undefined)?.code ?? 0),
          ...((span.status as Json | undefined)?.message
            ? { message: String((span.status as Json).message) }
            : {}),
        },
        links: list(span.links).map((link) => ({
          traceId: hex(link.traceId, json),
          spanId: hex(link.spanId, json),
        })),
        resource,
      })),
    );
  });
}

function pointsOf(request: Json): ReceivedPoint[] {
  return list(request.resourceMetrics).flatMap((resourceMetrics) =>
    list(resourceMetrics.scopeMetrics).flatMap((scope) =>
      list(scope.metrics).flatMap((metric) => {
        const base = { metric: String(metric.name), unit: String(metric.unit ?? "") };
        const histogram = metric.histogram as Json | undefined;
        if (histogram) {
          return list(histogram.dataPoints).map((point) => ({
            ...base,
            attributes: attributesOf(point.attributes),
            value: Number(point.count ?? 0),
            sum: Number(point.sum ?? 0),
            bounds: list(point.explicitBounds).map(Number),
          }));
        }
        const data = (metric.sum ?? metric.gauge) as Json | undefined;
        return list(data?.dataPoints).map((point) => ({
          ...base,
          attributes: attributesOf(point.attributes),
          value: Number(point.asInt ?? point.asDouble ?? 0),
        }));
      }),
    ),
  );
}
