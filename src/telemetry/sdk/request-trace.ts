import "../../http/types.js";
import type { IncomingHttpHeaders } from "node:http";
import type { AuthInfo } from "@modelcontextprotocol/server";
import { type Attributes, type SpanContext, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Decision } from "../../http/decision.js";
import type { RpcRequest } from "../../mcp/messages.js";
import { mcpRequestOf } from "../../mcp/request.js";
import type { RequestTrace } from "../telemetry.js";
import { callerNames, MessageTrace, type Step } from "./message-trace.js";
import { Attr } from "./names.js";
import { type Identity, type RequestSpans, remoteContext, spanContextOf } from "./spans.js";

/** Where a handler finds its request's trace: the request's own AuthInfo (one per request). */
const TRACE = Symbol("workflows-mcp request trace");
type Traced = AuthInfo & { [TRACE]?: HttpTrace };

/**
 * One /mcp request, recorded as it is served. Its server span is its
 * JSON-RPC message's when it holds exactly one — starting when the request
 * arrived, a child of the `traceparent` header's context or of the
 * message's own (`params._meta`, which wins) — and otherwise an HTTP span
 * (`POST /mcp`) with one span per message under it (a 2025-era batch), or
 * alone (a request refused before its body was read). The token's
 * verification is a step beneath the server span. The spans are made when
 * the request is over, with others (spans.ts); an id asked for sooner is
 * decided then, and kept.
 */
export class HttpTrace implements RequestTrace {
  readonly arrival = performance.now();
  end = 0;
  messages: MessageTrace[] = [];
  decision: Decision | undefined;
  verifyStart = 0;
  verifyEnd = 0;
  verifyCache: "hit" | "miss" | undefined;
  verifyError: string | undefined;
  #status = 0;
  #auth: AuthInfo | undefined;
  /** The `traceparent` header's context; null until read. */
  #header: SpanContext | undefined | null = null;
  #http: Identity | undefined;

  constructor(
    readonly spans: RequestSpans,
    private readonly headers: IncomingHttpHeaders,
  ) {}

  traceId(): string | undefined {
    const single = this.single();
    return (single ? this.messageIdentity(single) : this.httpIdentity())?.traceId;
  }

  /** The message a handler serves: the only one, or the one with its id (a batch). */
  message(id: unknown): MessageTrace | undefined {
    return this.single() ?? this.messages.find((message) => message.id === id);
  }

  /** A message's answer: a batch's message span ends with it; a single one with the exchange. */
  answered(response: { id?: unknown }): void {
    const message = this.message(response.id);
    message?.answer(response);
    if (message && !this.single()) message.finish();
  }

  verified(errorType?: string): void {
    this.verifyEnd = performance.now();
    if (errorType !== undefined) this.verifyError = errorType;
  }

  /** The token's verification, a step beneath the server span, once it ended. */
  verification(): Omit<Step, "spanId"> | undefined {
    if (this.verifyEnd === 0) return undefined;
    return {
      name: "verify token",
      start: this.verifyStart,
      end: this.verifyEnd,
      attributes: { [Attr.tokenCache]: this.verifyCache },
      ...(this.verifyError === undefined ? {} : { errorType: this.verifyError }),
    };
  }

  single(): MessageTrace | undefined {
    return this.messages.length === 1 ? this.messages[0] : undefined;
  }

  /** A message span's place: under the client's `_meta` context, else the header's (single) or the HTTP span's. */
  messageIdentity(message: MessageTrace): Identity | undefined {
    message.identity ??= this.spans.identify(
      this.#own(message) ?? (this.single() ? this.#headerContext() : this.#httpContext()),
      this.spans.spanName(message),
      SpanKind.SERVER,
    );
    return message.identity;
  }

  /** The HTTP span's place: under the header's context. */
  httpIdentity(): Identity | undefined {
    this.#http ??= this.spans.identify(this.#headerContext(), "POST /mcp", SpanKind.SERVER);
    return this.#http;
  }

  /** A message under its own `_meta` context links the transport's (the conventions). */
  linkOf(message: MessageTrace): SpanContext | undefined {
    if (!this.#own(message)) return undefined;
    return this.single() ? this.#headerContext() : this.#httpContext();
  }

  httpStatus(): { code: SpanStatusCode } {
    return { code: this.#status >= 400 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET };
  }

  httpAttributes(): Attributes {
    const caller = callerNames(this.#auth);
    return {
      [Attr.httpMethod]: "POST",
      [Attr.httpRoute]: "/mcp",
      [Attr.networkProtocol]: "http",
      [Attr.httpStatus]: this.#status,
      [Attr.authDecision]: this.decision?.outcome,
      [Attr.authReason]: this.decision?.reason,
      [Attr.subject]: caller.subject,
      [Attr.clientId]: caller.clientId,
      [Attr.errorType]: this.#status >= 400 ? String(this.#status) : undefined,
    };
  }

  /** The exchange is over: its outcome, what is left unanswered ends with it, and its spans are due. */
  finish(req: Request, res: Response): void {
    this.end = performance.now();
    this.#status = res.statusCode;
    this.decision = req.decision;
    this.#auth = req.auth;
    // A refusal of ours names its JSON-RPC code; the conventions' error.type is that code.
    const refusal =
      res.rpcErrorCode !== undefined
        ? String(res.rpcErrorCode)
        : this.#status >= 400
          ? String(this.#status)
          : undefined;
    const single = this.single();
    if (single) {
      single.httpStatus = this.#status;
      single.decision = this.decision;
    }
    for (const message of this.messages) message.finish(refusal);
    this.spans.finished(this);
  }

  #own(message: MessageTrace): SpanContext | undefined {
    if (message.clientContext === null) {
      message.clientContext = message.meta && remoteContext({ ...message.meta });
    }
    return message.clientContext;
  }

  #headerContext(): SpanContext | undefined {
    if (this.#header === null) {
      this.#header =
        this.headers.traceparent === undefined ? undefined : remoteContext(this.headers);
    }
    return this.#header;
  }

  #httpContext(): SpanContext | undefined {
    const http = this.httpIdentity();
    return http && spanContextOf(http);
  }
}

export const traceOf = (req: Request): HttpTrace | undefined =>
  req.trace instanceof HttpTrace ? req.trace : undefined;

/** The trace of the request whose AuthInfo a handler was given. */
export const traceOfAuth = (auth: AuthInfo | undefined): HttpTrace | undefined =>
  (auth as Traced | undefined)?.[TRACE];

/** One listener for every response: its request is `res.req`. */
function finished(this: Response): void {
  traceOf(this.req)?.finish(this.req, this);
}

/** First on the app: each /mcp POST gets its trace, finished when the exchange is over. */
export function httpRequests(spans: RequestSpans): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // The URL as sent (the app is mounted at the root): parsing it again would cost every request.
    const { url } = req;
    if (req.method === "POST" && url.startsWith("/mcp") && (url.length === 4 || url[4] === "?")) {
      req.trace = new HttpTrace(spans, req.headers);
      res.on("close", finished);
    }
    next();
  };
}

/** After classification: a record per message; handlers find theirs through the request's AuthInfo. */
export const messageTraces: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  const requestTrace = traceOf(req);
  if (requestTrace) {
    const mcp = mcpRequestOf(req);
    const protocolVersion = protocolVersionOf(req, mcp.route?.classification.revision);
    const startTime = mcp.messages.length === 1 ? requestTrace.arrival : performance.now();
    const messages: MessageTrace[] = [];
    for (let index = 0; index < mcp.messages.length; index++) {
      const message = mcp.messages[index] as RpcRequest;
      const task = mcp.demands[index]?.task;
      messages.push(new MessageTrace(message, startTime, task, protocolVersion, req.auth));
    }
    requestTrace.messages = messages;
    if (req.auth) (req.auth as Traced)[TRACE] = requestTrace;
  }
  next();
};

/** The revision the request speaks: its envelope's, else its header's; only a well-formed one. */
function protocolVersionOf(req: Request, revision: string | undefined): string | undefined {
  const header = req.headers["mcp-protocol-version"];
  const named = revision ?? (typeof header === "string" ? header : undefined);
  return named !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(named) ? named : undefined;
}
