import {
  type Attributes,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SamplingDecision,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { hrTime, type InstrumentationScope } from "@opentelemetry/core";
import type { IdGenerator, Sampler } from "@opentelemetry/sdk-trace";
import type { ExportThread } from "./export-thread.js";
import type { Instruments } from "./instruments.js";
import type { MessageTrace, Step } from "./message-trace.js";
import { Attr } from "./names.js";
import type { HttpTrace } from "./request-trace.js";
import { contextRecord, record, type SpanRecord } from "./span-record.js";

/** Requests finished and not yet made spans of, at most; and the longest one waits. */
const BATCH = 64;
const DELAY_MS = 50;
/** Metric attribute sets kept for reuse (methods × tools × revisions × outcomes seen). */
const MAX_METRIC_SETS = 512;

/** A span's place in its trace, decided once its parent is known. */
export interface Identity {
  traceId: string;
  spanId: string;
  sampled: boolean;
  traceState: string;
  parentSpanId: string;
  parentIsRemote: boolean;
}

interface Tracing {
  exporting: ExportThread;
  sampler: Sampler;
  ids: IdGenerator;
  scope: InstrumentationScope;
}

/**
 * The request path's spans and metrics, made in batches. While a request is
 * served its steps only note their times and facts (request-trace.ts,
 * message-trace.ts); once it is over it waits here, and every few dozen
 * requests (or 50 ms) the spans of all of them are made — after the MCP
 * conventions, with the SDK's sampler and id generator, as the records the
 * export thread posts — and the duration metric recorded. Made as the SDK
 * makes spans, one at a time between a request's steps, the same spans cost
 * the bench's throughput a quarter; made here, a few per cent (README "What
 * it costs"). An id needed sooner — the trace id of a log line, an audit
 * event or a run, the context of a backend call — is decided then, and kept.
 */
export class RequestSpans {
  #finished: HttpTrace[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #metricSets = new Map<string, Attributes>();
  /** This server's tools, named as they are; any other `_OTHER` (set when the endpoint is built). */
  knownTools: ReadonlySet<string> = new Set();

  constructor(
    private readonly instruments: Instruments,
    /** Absent: metrics only (no trace endpoint). */
    private readonly tracing: Tracing | undefined,
  ) {}

  finished(request: HttpTrace): void {
    this.#finished.push(request);
    if (this.#finished.length >= BATCH) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), DELAY_MS).unref();
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const requests = this.#finished;
    this.#finished = [];
    for (const request of requests) this.#made(request);
  }

  /** A span's identity under `parent` (a remote one, or one of ours): ids, and whether it is sampled. */
  identify(parent: SpanContext | undefined, name: string, kind: SpanKind): Identity | undefined {
    const tracing = this.tracing;
    if (!tracing) return undefined;
    const traceId = parent?.traceId ?? tracing.ids.generateTraceId();
    const sampling = tracing.sampler.shouldSample(
      parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
      traceId,
      name,
      kind,
      {},
      [],
    );
    return {
      traceId,
      spanId: tracing.ids.generateSpanId(),
      sampled: sampling.decision === SamplingDecision.RECORD_AND_SAMPLED,
      traceState: (sampling.traceState ?? parent?.traceState)?.serialize() ?? "",
      parentSpanId: parent?.spanId ?? "",
      parentIsRemote: parent?.isRemote === true,
    };
  }

  spanName(message: MessageTrace): string {
    return message.name(this.knownTools);
  }

  /** A step's span id, for the context its work continues (a backend call's). */
  spanId(): string {
    return this.tracing?.ids.generateSpanId() ?? "";
  }

  /** A step that ended: kept for its message's span, or made now if that one was made already. */
  step(message: MessageTrace, identity: Identity, step: Step): void {
    if (!identity.sampled) return;
    if (message.made) {
      this.#add(stepRecord(step, identity));
      return;
    }
    message.steps ??= [];
    message.steps.push(step);
  }

  #made(request: HttpTrace): void {
    const { decision } = request;
    if (decision && decision.outcome !== "authenticated") {
      this.instruments.refused.add(1, { [Attr.refusal]: decision.outcome });
    }
    const tracing = this.tracing;
    const single = request.single();
    const http = tracing && !single ? request.httpIdentity() : undefined;
    if (http?.sampled) {
      this.#add(
        spanRecord(
          "POST /mcp",
          SpanKind.SERVER,
          http,
          request.arrival,
          request.end,
          request.httpStatus(),
          request.httpAttributes(),
        ),
      );
    }
    for (const message of request.messages) {
      message.made = true;
      const metric = this.#metric(message);
      this.instruments.operationDuration.record((message.end - message.start) / 1000, metric);
      const identity = tracing && request.messageIdentity(message);
      if (!identity?.sampled) continue;
      this.#add(
        spanRecord(
          this.spanName(message),
          SpanKind.SERVER,
          identity,
          message.start,
          message.end,
          message.status,
          message.spanAttributes(metric, this.knownTools),
          request.linkOf(message),
        ),
      );
      if (message.gateEnd !== 0) {
        this.#add(
          stepRecord(
            {
              name: "authorize",
              start: message.gateStart,
              end: message.gateEnd,
              attributes: message.gateAttributes(),
              spanId: this.spanId(),
            },
            identity,
          ),
        );
      }
      for (const step of message.steps ?? []) this.#add(stepRecord(step, identity));
    }
    const verification = request.verification();
    const parent = single && tracing ? request.messageIdentity(single) : http;
    if (verification && parent?.sampled) {
      this.#add(stepRecord({ ...verification, spanId: this.spanId() }, parent));
    }
  }

  #add(made: SpanRecord): void {
    this.tracing?.exporting.record(made, this.tracing.scope);
  }

  /** The conventions' attributes of its duration, one object per distinct set (a metric hashes each). */
  #metric(message: MessageTrace): Attributes {
    const method = message.boundedMethod();
    const tool = message.boundedTool(this.knownTools);
    const key = `${method}\n${tool ?? ""}\n${message.protocolVersion ?? ""}\n${message.errorType ?? ""}`;
    const known = this.#metricSets.get(key);
    if (known) return known;
    const metric: Attributes = { [Attr.mcpMethod]: method };
    if (tool !== undefined) {
      metric[Attr.toolName] = tool;
      metric[Attr.operationName] = "execute_tool";
    }
    if (message.protocolVersion !== undefined) {
      metric[Attr.mcpProtocolVersion] = message.protocolVersion;
    }
    if (message.errorType !== undefined) metric[Attr.errorType] = message.errorType;
    if (this.#metricSets.size < MAX_METRIC_SETS) this.#metricSets.set(key, metric);
    return metric;
  }
}

/** The client's context a `traceparent` (and `tracestate`) names, when valid. */
export function remoteContext(
  carrier: Readonly<Record<string, string | string[] | undefined>>,
): SpanContext | undefined {
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier));
  return spanContext && isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** An identity as the context of work that continues it (a backend call's, an engine attempt's parent). */
export function spanContextOf(identity: Identity, spanId = identity.spanId): SpanContext {
  return {
    traceId: identity.traceId,
    spanId,
    traceFlags: identity.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
  };
}

function stepRecord(step: Step, parent: Identity): SpanRecord {
  return spanRecord(
    step.name,
    SpanKind.INTERNAL,
    {
      traceId: parent.traceId,
      spanId: step.spanId,
      sampled: true,
      traceState: parent.traceState,
      parentSpanId: parent.spanId,
      parentIsRemote: false,
    },
    step.start,
    step.end,
    step.errorType === undefined ? { code: SpanStatusCode.UNSET } : { code: SpanStatusCode.ERROR },
    step.errorType === undefined
      ? step.attributes
      : { ...step.attributes, [Attr.errorType]: step.errorType },
  );
}

function spanRecord(
  name: string,
  kind: SpanKind,
  identity: Identity,
  start: number,
  end: number,
  status: { code: SpanStatusCode; message?: string },
  attributes: Attributes,
  link?: SpanContext,
): SpanRecord {
  return record({
    name,
    kind,
    traceId: identity.traceId,
    spanId: identity.spanId,
    traceFlags: TraceFlags.SAMPLED,
    traceState: identity.traceState,
    parentSpanId: identity.parentSpanId,
    parentIsRemote: identity.parentIsRemote,
    startTime: hrTime(start),
    endTime: hrTime(end),
    status,
    attributes,
    ...(link ? { links: [{ context: contextRecord(link) }] } : {}),
  });
}
