import type { Attributes, HrTime, Link, SpanContext, SpanKind } from "@opentelemetry/api";
import { hrTimeDuration, type InstrumentationScope, TraceState } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";

/** A span context as JSON carries it: its trace state serialized. */
interface ContextRecord {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: string;
}

type LinkRecord = {
  context: ContextRecord;
  attributes?: Attributes;
  droppedAttributesCount?: number;
};

/**
 * An ended span as plain data, posted to the export thread (export-thread.ts)
 * as JSON: what `ReadableSpan` holds that the exporter reads, without methods,
 * class instances or the resource (the same for every span, sent once). A
 * tuple, not an object: serializing every span's keys would cost the serving
 * thread a third more. Optional parts are `""` or `0` when absent.
 */
export type SpanRecord = [
  name: string,
  kind: SpanKind,
  traceId: string,
  spanId: string,
  traceFlags: number,
  traceState: string,
  isRemote: 0 | 1,
  parentSpanId: string,
  parentIsRemote: 0 | 1,
  startTime: HrTime,
  endTime: HrTime,
  statusCode: number,
  statusMessage: string,
  attributes: Attributes,
  /** An index into the batch's scopes. */
  scope: number,
  links: LinkRecord[] | 0,
  events: TimedEvent[] | 0,
  dropped: [attributes: number, events: number, links: number] | 0,
];

export const contextRecord = (context: SpanContext): ContextRecord => ({
  traceId: context.traceId,
  spanId: context.spanId,
  traceFlags: context.traceFlags,
  ...(context.isRemote ? { isRemote: true } : {}),
  ...(context.traceState ? { traceState: context.traceState.serialize() } : {}),
});

const spanContext = (record: ContextRecord): SpanContext => ({
  traceId: record.traceId,
  spanId: record.spanId,
  traceFlags: record.traceFlags,
  ...(record.isRemote ? { isRemote: true } : {}),
  ...(record.traceState ? { traceState: new TraceState(record.traceState) } : {}),
});

/** A record's parts by name; `record` puts them in the tuple's order, the one place that knows it. */
export interface RecordParts {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: string;
  isRemote?: boolean;
  parentSpanId?: string;
  parentIsRemote?: boolean;
  startTime: HrTime;
  endTime: HrTime;
  status: { code: number; message?: string };
  attributes: Attributes;
  scope?: number;
  links?: LinkRecord[];
  events?: TimedEvent[];
  dropped?: [attributes: number, events: number, links: number];
}

export function record(parts: RecordParts): SpanRecord {
  return [
    parts.name,
    parts.kind,
    parts.traceId,
    parts.spanId,
    parts.traceFlags,
    parts.traceState ?? "",
    parts.isRemote ? 1 : 0,
    parts.parentSpanId ?? "",
    parts.parentIsRemote ? 1 : 0,
    parts.startTime,
    parts.endTime,
    parts.status.code,
    parts.status.message ?? "",
    parts.attributes,
    parts.scope ?? 0,
    parts.links?.length ? parts.links : 0,
    parts.events?.length ? parts.events : 0,
    parts.dropped ?? 0,
  ];
}

/** An SDK span (engine attempts, Render's API calls, key fetches) as a record. */
export function toRecord(span: ReadableSpan, scope: number): SpanRecord {
  const context = span.spanContext();
  const parent = span.parentSpanContext;
  const dropped = span.droppedAttributesCount + span.droppedEventsCount + span.droppedLinksCount;
  return record({
    name: span.name,
    kind: span.kind,
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.traceFlags,
    traceState: context.traceState?.serialize(),
    isRemote: context.isRemote,
    parentSpanId: parent?.spanId,
    parentIsRemote: parent?.isRemote,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: span.attributes,
    scope,
    links: span.links.map((link: Link) => ({
      context: contextRecord(link.context),
      ...(link.attributes ? { attributes: link.attributes } : {}),
      ...(link.droppedAttributesCount
        ? { droppedAttributesCount: link.droppedAttributesCount }
        : {}),
    })),
    events: span.events,
    dropped:
      dropped === 0
        ? undefined
        : [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  });
}

/** The span again, as the exporter reads it, with the export thread's resource. */
export function fromRecord(
  record: SpanRecord,
  resource: Resource,
  scopes: readonly InstrumentationScope[],
): ReadableSpan {
  const [
    name,
    kind,
    traceId,
    spanId,
    traceFlags,
    traceState,
    isRemote,
    parentSpanId,
    parentIsRemote,
    startTime,
    endTime,
    code,
    message,
    attributes,
    scope,
    links,
    events,
    dropped,
  ] = record;
  const context = spanContext({
    traceId,
    spanId,
    traceFlags,
    ...(isRemote ? { isRemote: true } : {}),
    ...(traceState ? { traceState } : {}),
  });
  const [droppedAttributes = 0, droppedEvents = 0, droppedLinks = 0] = dropped || [];
  return {
    name,
    kind,
    spanContext: () => context,
    ...(parentSpanId
      ? {
          parentSpanContext: {
            traceId,
            spanId: parentSpanId,
            traceFlags,
            ...(parentIsRemote ? { isRemote: true } : {}),
          },
        }
      : {}),
    startTime,
    endTime,
    duration: hrTimeDuration(startTime, endTime),
    status: message ? { code, message } : { code },
    attributes,
    links: (links || []).map((link) => ({ ...link, context: spanContext(link.context) })),
    events: events || [],
    ended: true,
    resource,
    instrumentationScope: scopes[scope] ?? { name: "unknown" },
    droppedAttributesCount: droppedAttributes,
    droppedEventsCount: droppedEvents,
    droppedLinksCount: droppedLinks,
  };
}
