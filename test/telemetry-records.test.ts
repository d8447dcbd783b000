import {
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
} from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type ReadableSpan,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { samplerFromEnv } from "../src/telemetry/sdk/sampling.js";
import { fromRecord, type SpanRecord, toRecord } from "../src/telemetry/sdk/span-record.js";

/**
 * A span crosses to the export thread as JSON (src/telemetry/sdk/
 * span-record.ts) and becomes a ReadableSpan again there: everything the
 * OTLP exporter reads must survive the trip. And the request path samples
 * with the sampler the SDK's provider would build from the same variables.
 */

const resource = resourceFromAttributes({ "service.name": "workflows-mcp" });
const scope = { name: "workflows-mcp", version: "1.2.3" };

function span(overrides: Partial<ReadableSpan> = {}): ReadableSpan {
  const context = {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: TraceFlags.SAMPLED,
    traceState: new TraceState("vendor=a,other=b"),
  };
  return {
    name: "attempt add",
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: { ...context, spanId: "00f067aa0ba902b7", isRemote: true },
    startTime: [1_765_000_000, 123_000_000],
    endTime: [1_765_000_001, 456_000_000],
    duration: [1, 333_000_000],
    status: { code: SpanStatusCode.ERROR, message: "attempt failed" },
    attributes: { "workflows_mcp.task": "add", "workflows_mcp.attempt": 2, flags: [true, false] },
    links: [
      {
        context: { traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1, isRemote: true },
        attributes: { why: "transport" },
      },
    ],
    events: [
      { name: "exception", time: [1_765_000_001, 0], attributes: { "exception.type": "E" } },
    ],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 1,
    droppedEventsCount: 2,
    droppedLinksCount: 3,
    ...overrides,
  };
}

const crossed = (record: SpanRecord) => JSON.parse(JSON.stringify(record)) as SpanRecord;

describe("a span record, through JSON and back", () => {
  it("keeps what the exporter reads: ids, parent, trace state, times, status, attributes, links, events, drops", () => {
    const original = span();
    const back = fromRecord(crossed(toRecord(original, 0)), resource, [scope]);
    expect(back.spanContext()).toEqual({
      traceId: original.spanContext().traceId,
      spanId: original.spanContext().spanId,
      traceFlags: TraceFlags.SAMPLED,
      traceState: expect.any(TraceState),
    });
    expect(back.spanContext().traceState?.serialize()).toBe("vendor=a,other=b");
    expect(back.parentSpanContext).toEqual({
      traceId: original.spanContext().traceId,
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(back).toMatchObject({
      name: "attempt add",
      kind: SpanKind.INTERNAL,
      startTime: original.startTime,
      endTime: original.endTime,
      duration: [1, 333_000_000],
      status: original.status,
      attributes: original.attributes,
      events: original.events,
      ended: true,
      resource,
      instrumentationScope: scope,
      droppedAttributesCount: 1,
      droppedEventsCount: 2,
      droppedLinksCount: 3,
    });
    expect(back.links).toEqual([
      {
        context: { traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1, isRemote: true },
        attributes: { why: "transport" },
      },
    ]);
  });

  it("a root span with nothing optional: no parent, no links or events, status unset, nothing dropped", () => {
    const root = span({
      parentSpanContext: undefined,
      links: [],
      events: [],
      status: { code: SpanStatusCode.UNSET },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    });
    const record = toRecord(root, 0);
    expect(record.slice(15)).toEqual([0, 0, 0]);
    const back = fromRecord(crossed(record), resource, [scope]);
    expect(back.parentSpanContext).toBeUndefined();
    expect(back).toMatchObject({
      links: [],
      events: [],
      status: { code: SpanStatusCode.UNSET },
      droppedAttributesCount: 0,
    });
  });

  it("an attribute left undefined is left out, as the SDK leaves it out", () => {
    const record = toRecord(span({ attributes: { kept: "yes", absent: undefined } }), 0);
    expect(fromRecord(crossed(record), resource, [scope]).attributes).toEqual({ kept: "yes" });
  });
});

describe("the sampler the variables name", () => {
  const decide = (env: Record<string, string>, traceId = "f".repeat(32)) =>
    samplerFromEnv(env).shouldSample(ROOT_CONTEXT, traceId, "x", SpanKind.SERVER, {}, []).decision;

  const parentBased = (root: string) =>
    `ParentBased{root=${root}, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}`;

  it.each([
    [{}, ParentBasedSampler, parentBased("AlwaysOnSampler")],
    [{ OTEL_TRACES_SAMPLER: "always_on" }, AlwaysOnSampler, "AlwaysOnSampler"],
    [{ OTEL_TRACES_SAMPLER: "always_off" }, AlwaysOffSampler, "AlwaysOffSampler"],
    [
      { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" },
      TraceIdRatioBasedSampler,
      "TraceIdRatioBased{0.5}",
    ],
    [
      { OTEL_TRACES_SAMPLER: "parentbased_always_off" },
      ParentBasedSampler,
      parentBased("AlwaysOffSampler"),
    ],
    [
      { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" },
      ParentBasedSampler,
      parentBased("TraceIdRatioBased{0.1}"),
    ],
  ])("%o: the SDK's %o, %s", (env, kind, described) => {
    const sampler = samplerFromEnv(env);
    expect(sampler).toBeInstanceOf(kind);
    expect(sampler.toString()).toBe(described);
  });

  it("the default samples every root; a ratio of 0 none, of 1 all", () => {
    expect(decide({})).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" })).toBe(
      SamplingDecision.NOT_RECORD,
    );
    expect(decide({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" })).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
  });
});
