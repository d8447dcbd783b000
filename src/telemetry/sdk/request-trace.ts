import "../../http/types.js";
import type { AuthInfo } from "@modelcontextprotocol/server";
import {
  type Attributes,
  type Context,
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

/** Where a handler finds its request's trace: the request's own AuthInfo (one per request). */
const TRACE = Symbol("workflows-mcp request trace");
type Traced = AuthInfo & { [TRACE]?: HttpTrace };

/** What verifying the request's token did, timed, for its span (made once its parent is known). */
interface Verification {
  start: number;
  end?: number;
  cache?: "hit" | "miss";
  errorType?: string;
}

/**
 * One /mcp request. Its server span is its JSON-RPC message's when it holds
 * exactly one — starting when the request arrived, a child of the
 * `traceparent` header's context or of the message's own (`params._meta`) —
 * and otherwise an HTTP span (`POST /mcp`) with one span per message under
 * it (a 2025-era batch), or alone (a request refused before its body was
 * read). Spans are made with the times recorded as the steps ran, once
 * their parent is known: no context is carried through the steps, so the
 * steps pay nothing for it.
 */
export class HttpTrace implements RequestTrace {
  readonly #arrival = performance.now();
  /** The client's context from the `traceparent`/`tracestate` headers (ROOT when none). */
  readonly #header: Context;
  #http: Span | undefined;
  #verification: Verification | undefined;
  messages: MessageSpan[] = [];

  constructor(
    private readonly tracer: Tracer | undefined,
    private readonly instruments: Instruments,
    req: Request,
  ) {
    this.#header =
      req.headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagation.extract(ROOT_CONTEXT, req.headers);
  }

  traceId(): string | undefined {
    const single = this.#single();
    if (single) return traceIdOf(single.span);
    return traceIdOf(this.#httpSpan());
  }

  /** The span of the message a handler serves: the only one, or the one with its id (a batch). */
  message(id: unknown): MessageSpan | undefined {
    return this.#single() ?? this.messages.find((message) => message.id === id);
  }

  /** A message's answer: a batch's message span ends with it; a single one with the exchange. */
  answered(response: { id?: unknown }): void {
    const message = this.message(response.id);
    message?.answer(response);
    if (message && !this.#single()) message.end();
  }

  verifying(): (cache: "hit" | "miss") => void {
    const verification: Verification = { start: performance.now() };
    this.#verification = verification;
    return (cache) => {
      verification.cache = cache;
    };
  }

  verified(errorType?: string): void {
    if (!this.#verification) return;
    this.#verification.end = performance.now();
    if (errorType !== undefined) this.#verification.errorType = errorType;
  }

  /** The request's messages are known: their spans, and the verification's beneath the server span. */
  classified(messages: MessageSpan[]): void {
    this.messages = messages;
    const single = this.#single();
    this.#verificationSpan(single ? single.context : this.#contextOfHttp());
  }

  /** Where a message's span goes: under the HTTP span for a batch; for a single message, the header's. */
  parentOf(count: number): { parent: Context; transport: Context; startTime: number } {
    if (count === 1) {
      return { parent: this.#header, transport: this.#header, startTime: this.#arrival };
    }
    const http = this.#contextOfHttp();
    return { parent: http, transport: http, startTime: performance.now() };
  }

  /** The exchange is over: its outcome, the refusal it may have been, and what is left unanswered. */
  finish(req: Request, res: Response): void {
    const status = res.statusCode;
    const decision = req.decision;
    if (decision && decision.outcome !== "authenticated") {
      this.instruments.refused.add(1, { [Attr.refusal]: decision.outcome });
    }
    const failed = status >= 400 ? String(status) : undefined;
    const attributes: Attributes = { [Attr.httpStatus]: status };
    if (decision) attributes[Attr.authDecision] = decision.outcome;
    if (decision?.reason) attributes[Attr.authReason] = decision.reason;
    // A refusal of ours names its JSON-RPC code; the conventions' error.type is that code.
    const refusal = res.rpcErrorCode === undefined ? failed : String(res.rpcErrorCode);
    const single = this.#single();
    if (single) {
      single.end(refusal, attributes);
      return;
    }
    for (const message of this.messages) message.end(refusal);
    if (!this.tracer) return;
    if (this.messages.length === 0) this.#verificationSpan(this.#contextOfHttp());
    const http = this.#httpSpan() as Span;
    http.setAttributes(attributes);
    http.setAttributes(callerAttributes(req.auth && callerOf(req.auth)));
    if (failed) {
      http.setAttribute(Attr.errorType, failed);
      http.setStatus({ code: SpanStatusCode.ERROR });
    }
    http.end();
  }

  #single(): MessageSpan | undefined {
    return this.messages.length === 1 ? this.messages[0] : undefined;
  }

  /** The HTTP span, made on first need (a batch, a refusal before the body, a trace id asked for). */
  #httpSpan(): Span | undefined {
    if (!this.tracer) return undefined;
    this.#http ??= this.tracer.startSpan(
      "POST /mcp",
      {
        kind: SpanKind.SERVER,
        startTime: this.#arrival,
        attributes: {
          [Attr.httpMethod]: "POST",
          [Attr.httpRoute]: "/mcp",
          [Attr.networkProtocol]: "http",
        },
      },
      this.#header,
    );
    return this.#http;
  }

  #contextOfHttp(): Context {
    const span = this.#httpSpan();
    return span ? trace.setSpan(this.#header, span) : this.#header;
  }

  #verificationSpan(parent: Context): void {
    const verification = this.#verification;
    if (!this.tracer || verification?.end === undefined) return;
    this.#verification = undefined;
    const span = this.tracer.startSpan(
      "verify token",
      {
        kind: SpanKind.INTERNAL,
        startTime: verification.start,
        ...(verification.cache ? { attributes: { [Attr.tokenCache]: verification.cache } } : {}),
      },
      parent,
    );
    if (verification.errorType !== undefined) {
      span.setAttribute(Attr.errorType, verification.errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(verification.end);
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

/** First on the app: each /mcp POST gets its trace, finished when the exchange is over. */
export function httpRequests(tracer: Tracer | undefined, instruments: Instruments): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // The URL as sent (the app is mounted at the root): parsing it again would cost every request.
    const { url } = req;
    if (req.method === "POST" && url.startsWith("/mcp") && (url.length === 4 || url[4] === "?")) {
      const requestTrace = new HttpTrace(tracer, instruments, req);
      req.trace = requestTrace;
      res.once("close", () => requestTrace.finish(req, res));
    }
    next();
  };
}

/** After classification: a span per message; handlers find theirs through the request's AuthInfo. */
export function messageSpans(
  tracer: Tracer | undefined,
  instruments: Instruments,
  knownTools: ReadonlySet<string>,
): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const requestTrace = traceOf(req);
    if (requestTrace) {
      const mcp = mcpRequestOf(req);
      const caller = req.auth && callerOf(req.auth);
      const version = protocolVersion(req, mcp.route?.classification.revision);
      const where = requestTrace.parentOf(mcp.messages.length);
      requestTrace.classified(
        mcp.messages.map((message, index) => {
          const task = mcp.demands[index]?.task;
          return new MessageSpan(tracer, instruments, {
            message,
            ...where,
            ...(task === undefined ? {} : { task }),
            ...(version === undefined ? {} : { protocolVersion: version }),
            ...(caller ? { caller } : {}),
            knownTools,
          });
        }),
      );
      if (req.auth) (req.auth as Traced)[TRACE] = requestTrace;
    }
    next();
  };
}

/** The revision the request speaks: its envelope's, else its header's; only a well-formed one. */
function protocolVersion(req: Request, revision: string | undefined): string | undefined {
  const header = req.headers["mcp-protocol-version"];
  const named = revision ?? (typeof header === "string" ? header : undefined);
  return named !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(named) ? named : undefined;
}
