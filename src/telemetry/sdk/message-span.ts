import {
  type Attributes,
  type Context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { Caller } from "../../auth/caller.js";
import { boundedText } from "../../http/bounded.js";
import { isRecord, type RpcRequest, toolCallOf } from "../../mcp/messages.js";
import type { Instruments } from "./instruments.js";
import { Attr, OTHER } from "./names.js";

/** The methods named as they are in spans and metrics; any other is `_OTHER` (bounded cardinality). */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "tasks/get",
  "tasks/update",
  "tasks/cancel",
  "tasks/list",
  "tasks/result",
  "server/discover",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/read",
  "resources/templates/list",
  "completion/complete",
  "logging/setLevel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
]);

/** The same on every server span: MCP over Streamable HTTP. */
const CONSTANT: Attributes = { [Attr.networkTransport]: "tcp", [Attr.networkProtocol]: "http" };

/** Where SEP-414 puts the client's trace context in a request. */
const META_KEYS = ["traceparent", "tracestate", "baggage"] as const;

export interface MessageStart {
  message: RpcRequest;
  /** The task a call names, as the gate read it (bounded). */
  task?: string;
  /** The protocol revision the request speaks, where it says. */
  protocolVersion?: string;
  caller?: Caller;
  knownTools: ReadonlySet<string>;
  /** The parent when the message names no context of its own: the HTTP request's span, or the header's. */
  parent: Context;
  /** Linked when the message names its own context (the conventions: link the transport's). */
  transport?: Context;
  /** When the span starts (performance.now()): the request's arrival for a single message. */
  startTime: number;
}

/**
 * One JSON-RPC message's server span, after the MCP conventions: named
 * `{mcp.method.name} {target}`, a child of the client's context in
 * `params._meta` when the message carries one (SEP-414; the transport's
 * context is then linked, as the conventions ask), else of `parent`. Its
 * duration, from `startTime` to `end`, is `mcp.server.operation.duration`.
 * Without a tracer (metrics only) there is no span, only the measurement.
 */
export class MessageSpan {
  readonly span: Span | undefined;
  readonly context: Context;
  readonly id: unknown;
  readonly #metric: Attributes;
  readonly #started: number;
  #ended = false;
  #errorType: string | undefined;

  constructor(
    tracer: Tracer | undefined,
    private readonly instruments: Instruments,
    start: MessageStart,
  ) {
    const { message } = start;
    this.id = message.id;
    this.#started = start.startTime;
    const method = KNOWN_METHODS.has(message.method) ? message.method : OTHER;
    const named = toolCallOf(message)?.name;
    const tool = named === undefined ? undefined : start.knownTools.has(named) ? named : OTHER;
    // Built by assignment, once per message: object spreads cost every request.
    const metric: Attributes = { [Attr.mcpMethod]: method };
    if (tool !== undefined) {
      metric[Attr.toolName] = tool;
      metric[Attr.operationName] = "execute_tool";
    }
    if (start.protocolVersion !== undefined)
      metric[Attr.mcpProtocolVersion] = start.protocolVersion;
    this.#metric = metric;
    if (!tracer) {
      this.context = start.parent;
      return;
    }
    const attributes: Attributes = Object.assign({}, metric, CONSTANT);
    if (typeof message.id === "string" || typeof message.id === "number") {
      attributes[Attr.requestId] = boundedText(String(message.id));
    }
    if (start.caller?.subject) {
      attributes[Attr.subject] = boundedText(start.caller.subject);
      if (start.caller.clientId) attributes[Attr.clientId] = boundedText(start.caller.clientId);
    }
    if (start.task !== undefined) attributes[Attr.task] = start.task;
    const runId = runIdOf(message);
    if (runId !== undefined) attributes[Attr.runId] = runId;
    const own = clientContext(message);
    const transport = own && start.transport && trace.getSpanContext(start.transport);
    const parent = own ?? start.parent;
    this.span = tracer.startSpan(
      tool === undefined ? method : `${method} ${tool}`,
      {
        kind: SpanKind.SERVER,
        startTime: start.startTime,
        attributes,
        ...(transport && isSpanContextValid(transport)
          ? { links: [{ context: transport } satisfies Link] }
          : {}),
      },
      parent,
    );
    this.context = trace.setSpan(parent, this.span);
  }

  /** The gate's decision, in a child span (timed by the caller) and on this one. */
  authorized(
    tracer: Tracer | undefined,
    decision: { allowed: boolean; missing?: readonly string[] },
    startTime: number,
  ): void {
    if (!tracer || !this.span) return;
    const attributes: Attributes = {
      [Attr.authorization]: decision.allowed ? "allowed" : "refused",
      ...(decision.missing ? { [Attr.missingScopes]: [...decision.missing] } : {}),
    };
    this.span.setAttributes(attributes);
    tracer
      .startSpan("authorize", { kind: SpanKind.INTERNAL, startTime, attributes }, this.context)
      .end(performance.now());
  }

  /** Its answer: a JSON-RPC error, a tool error, or a result (whose run it names). */
  answer(response: unknown): void {
    if (this.#ended || !isRecord(response)) return;
    const { error, result } = response;
    if (isRecord(error) && typeof error.code === "number") {
      const code = String(error.code);
      this.span?.setAttribute(Attr.rpcStatusCode, code);
      this.#fail(code, typeof error.message === "string" ? error.message : undefined);
    } else if (isRecord(result)) {
      const run = isRecord(result.structuredContent) ? result.structuredContent.run : undefined;
      if (isRecord(run) && this.span) {
        for (const [key, attr] of [
          ["id", Attr.runId],
          ["task", Attr.task],
          ["status", Attr.runStatus],
        ] as const) {
          if (typeof run[key] === "string") this.span.setAttribute(attr, boundedText(run[key]));
        }
      }
      if (result.isError === true) {
        const meta = isRecord(result._meta) ? result._meta["workflows-mcp/error"] : undefined;
        const code = isRecord(meta) && typeof meta.code === "string" ? meta.code : undefined;
        if (code) this.span?.setAttribute(Attr.errorCode, code);
        this.#fail("tool_error", code);
      }
    }
  }

  /** Ends it; `errorType` (a refusal the HTTP exchange ended with) when no answer said more. */
  end(errorType?: string, attributes?: Attributes): void {
    if (this.#ended) return;
    this.#ended = true;
    if (attributes) this.span?.setAttributes(attributes);
    if (errorType !== undefined && this.#errorType === undefined) this.#fail(errorType);
    const now = performance.now();
    this.span?.end(now);
    this.instruments.operationDuration.record(
      (now - this.#started) / 1000,
      this.#errorType === undefined
        ? this.#metric
        : { ...this.#metric, [Attr.errorType]: this.#errorType },
    );
  }

  #fail(errorType: string, message?: string): void {
    this.#errorType = errorType;
    this.span?.setAttribute(Attr.errorType, errorType);
    this.span?.setStatus({
      code: SpanStatusCode.ERROR,
      ...(message === undefined ? {} : { message: boundedText(message, 256) }),
    });
  }
}

export function callerAttributes(caller: Caller | undefined): Attributes {
  if (!caller?.subject) return {};
  return {
    [Attr.subject]: boundedText(caller.subject),
    ...(caller.clientId ? { [Attr.clientId]: boundedText(caller.clientId) } : {}),
  };
}

/** The client's own context for this message (SEP-414: `params._meta`), when it carries a valid one. */
function clientContext(message: RpcRequest): Context | undefined {
  const meta = isRecord(message.params) ? message.params._meta : undefined;
  if (!isRecord(meta) || typeof meta.traceparent !== "string") return undefined;
  const carrier: Record<string, string> = {};
  for (const key of META_KEYS) {
    const value = meta[key];
    if (typeof value === "string") carrier[key] = value;
  }
  const extracted = propagation.extract(ROOT_CONTEXT, carrier);
  const spanContext = trace.getSpanContext(extracted);
  return spanContext && isSpanContextValid(spanContext) ? extracted : undefined;
}

/** The run a message names: a tool's `id` argument, or a Tasks method's `taskId`. */
function runIdOf(message: RpcRequest): string | undefined {
  const params = isRecord(message.params) ? message.params : {};
  const args = isRecord(params.arguments) ? params.arguments : {};
  const id = message.method === "tools/call" ? args.id : params.taskId;
  return typeof id === "string" ? boundedText(id, 256) : undefined;
}
