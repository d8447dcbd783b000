import "../../http/types.js";
import type { AuthInfo } from "@modelcontextprotocol/server";
import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { callerOf } from "../../auth/caller.js";
import { mcpRequestOf } from "../../mcp/request.js";
import type { RequestTrace } from "../telemetry.js";
import type { Instruments } from "./instruments.js";
import { callerAttributes, MessageSpan } from "./message-span.js";
import { Attr } from "./names.js";

const HTTP_METHODS: ReadonlySet<string> = new Set(["POST", "GET", "DELETE", "OPTIONS", "HEAD"]);

/** Where a handler finds its request's trace: the request's own AuthInfo (one per request). */
const TRACE = Symbol("workflows-mcp request trace");
type Traced = AuthInfo & { [TRACE]?: HttpTrace };

/**
 * One /mcp request: its HTTP span, a child of the `traceparent` header's
 * context, and the spans of its JSON-RPC messages once they are read. The
 * token's verification and every refusal before the body is read belong to
 * the HTTP span.
 */
export class HttpTrace implements RequestTrace {
  readonly span: Span;
  readonly context: Context;
  messages: MessageSpan[] = [];

  constructor(tracer: Tracer, req: Request) {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = HTTP_METHODS.has(req.method) ? req.method : "_OTHER";
    this.span = tracer.startSpan(
      `${method} /mcp`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [Attr.httpMethod]: method,
          [Attr.httpRoute]: "/mcp",
          [Attr.networkProtocol]: "http",
        },
      },
      parent,
    );
    this.context = trace.setSpan(parent, this.span);
  }

  traceId(): string | undefined {
    const [single, ...others] = this.messages;
    return traceIdOf(single && others.length === 0 ? single.span : this.span);
  }

  /** The span of the message a handler serves: the only one, or the one with its id (a batch). */
  message(id: unknown): MessageSpan | undefined {
    if (this.messages.length === 1) return this.messages[0];
    return this.messages.find((message) => message.id === id);
  }

  /** The exchange is over: its outcome, the refusal it may have been, and any message left unanswered. */
  finish(req: Request, res: Response, instruments: Instruments): void {
    const status = res.statusCode;
    const decision = req.decision;
    this.span.setAttributes({
      [Attr.httpStatus]: status,
      ...callerAttributes(req.auth && callerOf(req.auth)),
      ...(decision ? { [Attr.authDecision]: decision.outcome } : {}),
      ...(decision?.reason ? { [Attr.authReason]: decision.reason } : {}),
    });
    if (decision && decision.outcome !== "authenticated") {
      instruments.refused.add(1, { [Attr.refusal]: decision.outcome });
    }
    const failed = status >= 400 ? String(status) : undefined;
    if (failed) {
      this.span.setAttribute(Attr.errorType, failed);
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    // A refusal of ours names its JSON-RPC code; the conventions' error.type is that code.
    const refusal = res.rpcErrorCode === undefined ? failed : String(res.rpcErrorCode);
    for (const message of this.messages) message.end(refusal);
    this.span.end();
  }
}

export const traceOf = (req: Request): HttpTrace | undefined =>
  req.trace instanceof HttpTrace ? req.trace : undefined;

/** The trace of the request whose AuthInfo a handler was given. */
export const traceOfAuth = (auth: AuthInfo | undefined): HttpTrace | undefined =>
  (auth as Traced | undefined)?.[TRACE];

export function traceIdOf(span: Span | undefined): string | undefined {
  const spanContext = span?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** First on the app: each /mcp request gets its HTTP span and trace, current for what follows. */
export function httpRequests(tracer: Tracer, instruments: Instruments): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.path !== "/mcp") {
      next();
      return;
    }
    const requestTrace = new HttpTrace(tracer, req);
    req.trace = requestTrace;
    res.once("close", () => requestTrace.finish(req, res, instruments));
    context.with(requestTrace.context, next);
  };
}

/**
 * After classification: a span per message, and the request's context
 * current again (reading the body happens in stream events, which do not
 * carry it). A single message's span is current for everything after; a
 * batch's handlers find theirs by id (`inMessage`).
 */
export function messageSpans(
  tracer: Tracer,
  instruments: Instruments,
  knownTools: ReadonlySet<string>,
): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const requestTrace = traceOf(req);
    if (!requestTrace) {
      next();
      return;
    }
    const mcp = mcpRequestOf(req);
    const caller = req.auth && callerOf(req.auth);
    const version = protocolVersion(req, mcp.route?.classification.revision);
    requestTrace.messages = mcp.messages.map(
      (message, index) =>
        new MessageSpan(tracer, instruments, {
          message,
          ...(mcp.demands[index]?.task === undefined ? {} : { task: mcp.demands[index]?.task }),
          ...(version === undefined ? {} : { protocolVersion: version }),
          ...(caller ? { caller } : {}),
          knownTools,
          http: requestTrace.context,
        }),
    );
    if (req.auth) (req.auth as Traced)[TRACE] = requestTrace;
    const single = requestTrace.messages.length === 1 ? requestTrace.messages[0] : undefined;
    context.with(single?.context ?? requestTrace.context, next);
  };
}

/** The revision the request speaks: its envelope's, else its header's; only a well-formed one. */
function protocolVersion(req: Request, revision: string | undefined): string | undefined {
  const header = req.headers["mcp-protocol-version"];
  const named = revision ?? (typeof header === "string" ? header : undefined);
  return named !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(named) ? named : undefined;
}
