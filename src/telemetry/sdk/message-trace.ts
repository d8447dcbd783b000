import type { AuthInfo } from "@modelcontextprotocol/server";
import { type Attributes, type SpanContext, SpanStatusCode } from "@opentelemetry/api";
import { callerOf } from "../../auth/caller.js";
import { boundedText } from "../../http/bounded.js";
import type { Decision } from "../../http/decision.js";
import { isRecord, type RpcRequest } from "../../mcp/messages.js";
import { Attr, OTHER } from "./names.js";
import type { Identity } from "./spans.js";

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

/** A step of a call that became a span of its own beneath the call's (a backend call). */
export interface Step {
  name: string;
  start: number;
  end: number;
  attributes: Attributes;
  /** Decided when the step began: the context its work continues. */
  spanId: string;
  errorType?: string;
}

/** Where SEP-414 puts the client's trace context in a request. */
export interface MetaContext {
  traceparent: string;
  tracestate?: string;
}

/**
 * One JSON-RPC message as its server span will tell it, after the MCP
 * conventions: named `{mcp.method.name} {target}`, a child of the client's
 * context in `params._meta` when the message carries one (SEP-414), the
 * gate's decision and the backend's calls beneath it. While the request is
 * served it only notes facts and times, in fields (what a request
 * allocates costs every request); spans.ts makes the span later, with
 * other requests'. Its duration is `mcp.server.operation.duration`.
 */
export class MessageTrace {
  readonly id: unknown;
  readonly method: string;
  /** The tool a call names, as named (bounded when made a span). */
  readonly tool: string | undefined;
  readonly runId: string | undefined;
  readonly meta: MetaContext | undefined;
  end = 0;
  /** Its span was made (spans.ts): a step that ends later is made on its own. */
  made = false;
  identity: Identity | undefined;
  /** The client's valid `_meta` context, once read (request-trace.ts); null until then. */
  clientContext: SpanContext | undefined | null = null;
  steps: Step[] | undefined;
  gateStart = 0;
  gateEnd = 0;
  missing: readonly string[] | undefined;
  allowed = false;
  errorType: string | undefined;
  statusMessage: string | undefined;
  rpcCode: string | undefined;
  errorCode: string | undefined;
  runTask: string | undefined;
  runStatus: string | undefined;
  answeredRunId: string | undefined;
  /** The HTTP exchange's outcome, on a single message's span (request-trace.ts). */
  httpStatus: number | undefined;
  decision: Decision | undefined;

  constructor(
    message: RpcRequest,
    readonly start: number,
    /** The task a call names, as the gate read it (bounded). */
    readonly task: string | undefined,
    /** The protocol revision the request speaks, where it says. */
    readonly protocolVersion: string | undefined,
    readonly auth: AuthInfo | undefined,
  ) {
    this.id = message.id;
    this.method = message.method;
    const params = isRecord(message.params) ? message.params : undefined;
    const args = params && isRecord(params.arguments) ? params.arguments : undefined;
    this.tool =
      message.method === "tools/call" && typeof params?.name === "string" ? params.name : undefined;
    const runId = message.method === "tools/call" ? args?.id : params?.taskId;
    this.runId = typeof runId === "string" ? runId : undefined;
    const meta = params && isRecord(params._meta) ? params._meta : undefined;
    this.meta =
      meta && typeof meta.traceparent === "string"
        ? typeof meta.tracestate === "string"
          ? { traceparent: meta.traceparent, tracestate: meta.tracestate }
          : { traceparent: meta.traceparent }
        : undefined;
  }

  /** The gate's decision on it. */
  authorized(decision: { allowed: boolean; missing?: readonly string[] }, start: number): void {
    this.gateStart = start;
    this.gateEnd = performance.now();
    this.allowed = decision.allowed;
    this.missing = decision.missing;
  }

  /** Its answer: a JSON-RPC error, a tool error, or a result (whose run it names). */
  answer(response: unknown): void {
    if (this.end !== 0 || !isRecord(response)) return;
    const { error, result } = response;
    if (isRecord(error) && typeof error.code === "number") {
      this.rpcCode = String(error.code);
      this.#fail(this.rpcCode, typeof error.message === "string" ? error.message : undefined);
    } else if (isRecord(result)) {
      const run = isRecord(result.structuredContent) ? result.structuredContent.run : undefined;
      if (isRecord(run)) {
        if (typeof run.id === "string") this.answeredRunId = run.id;
        if (typeof run.task === "string") this.runTask = run.task;
        if (typeof run.status === "string") this.runStatus = run.status;
      }
      if (result.isError === true) {
        const meta = isRecord(result._meta) ? result._meta["workflows-mcp/error"] : undefined;
        const code = isRecord(meta) && typeof meta.code === "string" ? meta.code : undefined;
        this.errorCode = code || undefined;
        this.#fail("tool_error", code);
      }
    }
  }

  /** Ends it; `errorType` (a refusal the HTTP exchange ended with) when no answer said more. */
  finish(errorType?: string): void {
    if (this.end !== 0) return;
    this.end = performance.now();
    if (errorType !== undefined && this.errorType === undefined) this.#fail(errorType);
  }

  /** Its span's name: `{mcp.method.name} {target}`. */
  name(knownTools: ReadonlySet<string>): string {
    const tool = this.boundedTool(knownTools);
    return tool === undefined ? this.boundedMethod() : `${this.boundedMethod()} ${tool}`;
  }

  /** The method as spans and metrics name it (bounded). */
  boundedMethod(): string {
    return KNOWN_METHODS.has(this.method) ? this.method : OTHER;
  }

  /** The tool as spans and metrics name it: a tool of this server's, else `_OTHER`. */
  boundedTool(knownTools: ReadonlySet<string>): string | undefined {
    return this.tool === undefined ? undefined : knownTools.has(this.tool) ? this.tool : OTHER;
  }

  get status(): { code: SpanStatusCode; message?: string } {
    if (this.errorType === undefined) return { code: SpanStatusCode.UNSET };
    return this.statusMessage === undefined
      ? { code: SpanStatusCode.ERROR }
      : { code: SpanStatusCode.ERROR, message: this.statusMessage };
  }

  /**
   * Its server span's attributes: the metric's, who called, what it named,
   * how it ended. One literal of fixed keys (an absent value is undefined,
   * which the record leaves out): built key by key, it cost a request more
   * than the rest of its span.
   */
  spanAttributes(metric: Attributes, knownTools: ReadonlySet<string>): Attributes {
    const tool = this.boundedTool(knownTools);
    const caller = callerNames(this.auth);
    const id = this.id;
    const gated = this.gateEnd !== 0;
    return {
      [Attr.mcpMethod]: metric[Attr.mcpMethod],
      [Attr.toolName]: tool,
      [Attr.operationName]: tool === undefined ? undefined : "execute_tool",
      [Attr.mcpProtocolVersion]: this.protocolVersion,
      [Attr.networkTransport]: "tcp",
      [Attr.networkProtocol]: "http",
      [Attr.requestId]:
        typeof id === "string" || typeof id === "number" ? boundedText(String(id)) : undefined,
      [Attr.subject]: caller.subject,
      [Attr.clientId]: caller.clientId,
      [Attr.task]: this.runTask === undefined ? this.task : boundedText(this.runTask),
      [Attr.runId]:
        this.answeredRunId !== undefined
          ? boundedText(this.answeredRunId)
          : this.runId === undefined
            ? undefined
            : boundedText(this.runId, 256),
      [Attr.runStatus]: this.runStatus === undefined ? undefined : boundedText(this.runStatus),
      [Attr.authorization]: gated ? (this.allowed ? "allowed" : "refused") : undefined,
      [Attr.missingScopes]: gated && this.missing ? [...this.missing] : undefined,
      [Attr.rpcStatusCode]: this.rpcCode,
      [Attr.errorCode]: this.errorCode,
      [Attr.httpStatus]: this.httpStatus,
      [Attr.authDecision]: this.decision?.outcome,
      [Attr.authReason]: this.decision?.reason,
      [Attr.errorType]: this.errorType,
    };
  }

  /** The gate's decision, on its own span (and on this one). */
  gateAttributes(): Attributes {
    return {
      [Attr.authorization]: this.allowed ? "allowed" : "refused",
      [Attr.missingScopes]: this.missing ? [...this.missing] : undefined,
    };
  }

  #fail(errorType: string, message?: string): void {
    this.errorType = errorType;
    this.statusMessage = message === undefined ? undefined : boundedText(message, 256);
  }
}

/** Who called, as spans name them (bounded; never a token): none without a subject. */
export function callerNames(auth: AuthInfo | undefined): { subject?: string; clientId?: string } {
  const caller = auth && callerOf(auth);
  if (!caller?.subject) return {};
  return caller.clientId
    ? { subject: boundedText(caller.subject), clientId: boundedText(caller.clientId) }
    : { subject: boundedText(caller.subject) };
}
