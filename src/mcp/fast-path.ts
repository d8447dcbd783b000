import {
  type AuthInfo,
  type InboundModernRoute,
  isJsonContentType,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type McpRequestContext,
  type McpServer,
  type MessageClassification,
  PerRequestHTTPServerTransport,
  ProtocolErrorCode,
  parseJSONRPCMessage,
  type ScopeChallengeHandler,
  type TransportSendOptions,
} from "@modelcontextprotocol/server";
import type { Request, Response } from "express";
import { whenClosed } from "../http/closed.js";
import type { Catalogue } from "./catalogue.js";
import { isRecord } from "./messages.js";
import type { ClassifiedRequest } from "./request.js";
import { MODERN_REVISION } from "./revision.js";

/**
 * The fast path, and every reliance on the SDK beyond its documented API in
 * one place (test/sdk-adapter.test.ts holds it to the SDK's own serving).
 *
 * The requests a client sends most — a 2025-era request that is not
 * `initialize`, and a 2026-07-28 `tools/call`, `tools/list`, `tasks/get`,
 * `tasks/update` or `tasks/cancel`, none asking for progress — are answered
 * by two long-lived servers per process (one per protocol era) instead of a
 * server and a transport built and torn down for each: that was most of a
 * request's cost (issue 12), and a Tasks client polls `tasks/get` for as
 * long as a run works (issue 18). What this relies on:
 *
 * - `ExchangeTransport` subclasses the SDK's `PerRequestHTTPServerTransport`
 *   and feeds it many exchanges: connecting a server to one binds the server
 *   to the classified revision (the documented way to make an instance serve
 *   2026-07-28), and the protocol layer answers its own refusals
 *   synchronously, inside `onmessage`, while handlers run later;
 * - which requests the SDK's entry would dispatch without refusing them
 *   first, in its order (`servable`): what is not servable here, and
 *   anything these servers refuse before running a handler, goes to the
 *   SDK's own per-request serving, which answers it exactly as before;
 * - the HTTP status the SDK gives an answer a handler produced (`statusOf`).
 *
 * Still stateless towards clients: each handler takes its caller from its
 * own request (context.ts); the 2025-era server is never initialized,
 * exactly like a per-request server handed anything but `initialize`; a
 * 2026-07-28 client's capabilities travel in each request's envelope, which
 * is what the handlers read. Only requests reach these servers, never a
 * client's notification: no client can address another's request
 * (`notifications/cancelled` names the server's own ids, which only the
 * transport sends).
 */

/** What an exchange ended with: the answer, or why there is none. */
type ExchangeOutcome =
  | { kind: "answered"; response: JSONRPCResponse }
  /**
   * Refused before any handler ran — by the tool's own scope check, or by the
   * protocol layer's checks (unknown method, bad envelope, …): nothing was
   * done, and the caller lets the SDK's per-request serving answer it, with
   * the HTTP status the SDK gives that refusal.
   */
  | { kind: "refused" }
  /** The HTTP exchange closed first: the request's handler was cancelled. */
  | { kind: "gone" };

interface Pending {
  /** The id the client chose: put back on the answer. */
  id: JSONRPCRequest["id"];
  settle(outcome: ExchangeOutcome): void;
}

/**
 * The transport one long-lived server is connected to, fed one HTTP
 * exchange's request at a time. The protocol layer behind it is built to
 * serve many requests over one connection (it does so for stateful
 * sessions); what this transport adds is what many independent HTTP clients
 * need of it:
 *
 * - every request gets an id of the server's own, so two clients that both
 *   chose `id: 1` never meet in the protocol layer's bookkeeping; the answer
 *   carries the client's id again;
 * - the answer comes back to the exchange that asked, as one JSON body;
 *   nothing else is carried (notifications need a stream, and requests that
 *   ask for progress are not routed here);
 * - an exchange that closes before its answer cancels its handler with the
 *   protocol's own `notifications/cancelled`, as a departing client would;
 * - the tools' own scope check (`scopeChallenge`) runs first, as in the
 *   SDK's HTTP transports.
 *
 * It is a PerRequestHTTPServerTransport for one reason: connecting a server
 * to one binds the server to the classified revision (the SDK's documented
 * way to make an instance serve 2026-07-28); none of that class's
 * single-exchange machinery is used.
 */
export class ExchangeTransport extends PerRequestHTTPServerTransport {
  readonly #classification: MessageClassification | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 0;
  /** The internal id being dispatched: an answer to it now is a refusal from the protocol layer. */
  #dispatching: number | undefined;
  #scopeChallenge: ScopeChallengeHandler | undefined;
  #supportedVersions: readonly string[] = [];
  #closed = false;

  /**
   * `classification`: what every request fed here is classified as, for the
   * protocol layer to check against its era (the 2026-07-28 entry passes
   * one); undefined for 2025-era serving, which passes none.
   */
  constructor(classification?: MessageClassification) {
    super({ classification: classification ?? { era: "legacy" }, responseMode: "json" });
    this.#classification = classification;
  }

  override async start(): Promise<void> {}

  /** Called by McpServer.connect: the tools' `scopeChallenge`, as the SDK's HTTP transports take it. */
  setScopeChallengeResolver(resolver: ScopeChallengeHandler): void {
    this.#scopeChallenge = resolver;
  }

  /** Called by the server on connect: the versions a `Mcp-Protocol-Version` header may name. */
  setSupportedProtocolVersions(versions: string[]): void {
    this.#supportedVersions = [...versions];
  }

  get supportedProtocolVersions(): readonly string[] {
    return this.#supportedVersions;
  }

  /** Exchanges awaiting their answer (as many as the HTTP server has requests in flight). */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Serves one request. `closed` settles when the HTTP exchange is over; if
   * that comes first, the handler is cancelled and the outcome is `gone`.
   */
  async exchange(
    request: JSONRPCRequest,
    { authInfo, closed }: { authInfo?: AuthInfo; closed: Promise<unknown> },
  ): Promise<ExchangeOutcome> {
    const deliver = this.onmessage;
    if (this.#closed || !deliver) throw new Error("the exchange transport is not connected");
    if (this.#scopeChallenge) {
      // A challenge, or a check that fails: the SDK's serving answers either (403, or its 500).
      const challenge = await Promise.resolve()
        .then(() => this.#scopeChallenge?.({ request, authInfo }))
        .catch(() => "failed" as const);
      if (challenge) return { kind: "refused" };
    }
    const internalId = this.#nextId++;
    const outcome = new Promise<ExchangeOutcome>((settle) => {
      this.#pending.set(internalId, { id: request.id, settle });
    });
    void closed.then(() => this.#cancel(internalId));
    // The protocol layer answers its own refusals synchronously, inside this
    // call; handlers always run later (it defers them to a microtask).
    this.#dispatching = internalId;
    try {
      deliver({ ...request, id: internalId }, this.#extra(authInfo));
    } catch {
      // Nothing ran: the SDK's serving answers it, and nothing is left pending.
      this.#take(internalId);
      return { kind: "refused" };
    } finally {
      this.#dispatching = undefined;
    }
    return outcome;
  }

  override async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (!("id" in message) || "method" in message || typeof message.id !== "number") return;
    const pending = this.#take(message.id);
    if (!pending) return;
    pending.settle(
      this.#dispatching === message.id
        ? { kind: "refused" }
        : { kind: "answered", response: { ...message, id: pending.id } },
    );
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.settle({ kind: "gone" });
    this.#pending.clear();
    this.onclose?.();
  }

  #extra(authInfo: AuthInfo | undefined) {
    return {
      ...(this.#classification ? { classification: this.#classification } : {}),
      ...(authInfo ? { authInfo } : {}),
    };
  }

  /** The pending exchange of a server id, no longer pending. */
  #take(internalId: number): Pending | undefined {
    const pending = this.#pending.get(internalId);
    this.#pending.delete(internalId);
    return pending;
  }

  #cancel(internalId: number): void {
    const pending = this.#take(internalId);
    if (!pending) return;
    pending.settle({ kind: "gone" });
    this.onmessage?.(
      {
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: internalId, reason: "The client closed the HTTP exchange" },
      },
      this.#extra(undefined),
    );
  }
}

export function fastPath(
  factory: (ctx: McpRequestContext) => McpServer,
  catalogue: Catalogue,
  /** Told of every answer this path gives (telemetry ends the message's span with it). */
  onAnswer: (req: Request, response: JSONRPCResponse) => void = () => {},
) {
  const legacy = new ExchangeTransport();
  const modern = new ExchangeTransport({ era: "modern", revision: MODERN_REVISION });
  // SEP-2243: a tool whose input schema declares `x-mcp-header` has its
  // arguments checked against Mcp-Param-* headers by the SDK's entry before
  // dispatch; those calls keep going through it.
  const plainTools = new Set(
    catalogue.entries
      .filter(
        (entry) =>
          !JSON.stringify(
            entry.registration.inputSchema["~standard"].jsonSchema.input({
              target: "draft-2020-12",
            }),
          ).includes("x-mcp-header"),
      )
      .map((entry) => entry.definition.name),
  );
  let modernServes = false;
  let connecting: Promise<void> | undefined;
  let answered = 0;
  const connect = async () => {
    await factory({ era: "legacy" }).connect(legacy);
    const server = factory({ era: "modern" });
    await server.connect(modern);
    // Should the SDK ever stop binding the instance to the revision, the
    // SDK's per-request serving answers every 2026-07-28 request, as before.
    modernServes = server.server.getNegotiatedProtocolVersion() === MODERN_REVISION;
  };

  return {
    /**
     * Answers the request with a long-lived server and returns true, or
     * returns false having written nothing (the caller serves it per request).
     */
    async answer(req: Request, res: Response, request: ClassifiedRequest): Promise<boolean> {
      connecting ??= connect();
      await connecting;
      const [transport, message] =
        request.era === "legacy"
          ? [legacy, legacyServable(req, request, legacy.supportedProtocolVersions)]
          : modernServes
            ? [modern, modernServable(req, request, plainTools)]
            : [];
      if (!transport || !message) return false;
      const outcome = await transport.exchange(message, {
        ...(req.auth ? { authInfo: req.auth } : {}),
        closed: whenClosed(res),
      });
      if (outcome.kind === "refused") return false;
      if (outcome.kind === "answered") {
        answered++;
        onAnswer(req, outcome.response);
        sendJson(res, statusOf(outcome.response), outcome.response);
      }
      return true;
    },
    /** Requests the long-lived servers have answered (the contract test checks which path served). */
    answered: () => answered,
    close: async () => {
      await Promise.all([legacy.close(), modern.close()]);
    },
  };
}

/**
 * A 2025-era request the long-lived server answers exactly as the SDK's
 * stateless transport would (its checks passed, in its order): a single
 * valid JSON-RPC request, not `initialize`, without a `progressToken`, from
 * a client that accepts both JSON and SSE, naming a supported version or none.
 */
function legacyServable(
  req: Request,
  request: ClassifiedRequest,
  versions: readonly string[],
): JSONRPCRequest | undefined {
  const accept = req.headers.accept;
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return;
  if (!isJsonContentType(req.headers["content-type"] ?? null)) return;
  const body: unknown = req.body;
  if (!isRecord(body) || body.method === "initialize" || request.asksForProgress) return;
  const version = req.headers["mcp-protocol-version"];
  if (version !== undefined && (typeof version !== "string" || !versions.includes(version))) return;
  let message: ReturnType<typeof parseJSONRPCMessage>;
  try {
    message = parseJSONRPCMessage(body);
  } catch {
    return;
  }
  return "method" in message && "id" in message ? message : undefined;
}

/** The methods the long-lived 2026-07-28 server answers, and the param `Mcp-Name` mirrors (SEP-2243, SEP-2663). */
const MODERN_METHODS: Readonly<Record<string, string | undefined>> = {
  "tools/list": undefined,
  "tools/call": "name",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/**
 * A 2026-07-28 request of those methods that passes every check the SDK's
 * entry makes before dispatch (the request was classified with the SDK's
 * classifier): the standard headers present and equal to the body (plainly,
 * not Base64), the revision the server serves, for a call a tool without
 * `Mcp-Param-*` headers, and no progress asked (the SDK would stream).
 */
function modernServable(
  req: Request,
  request: ClassifiedRequest,
  plainTools: ReadonlySet<string>,
): JSONRPCRequest | undefined {
  const route: InboundModernRoute | undefined = request.route;
  if (route?.messageKind !== "request") return;
  const { message, classification } = route;
  const { headers } = req;
  if (
    !Object.hasOwn(MODERN_METHODS, message.method) ||
    classification.revision !== MODERN_REVISION ||
    headers["mcp-protocol-version"] !== MODERN_REVISION ||
    headers["mcp-method"] !== message.method ||
    request.asksForProgress
  ) {
    return;
  }
  const field = MODERN_METHODS[message.method];
  if (field === undefined) return headers["mcp-name"] === undefined ? message : undefined;
  const named = isRecord(message.params) ? message.params[field] : undefined;
  if (typeof named !== "string" || headers["mcp-name"] !== named) return;
  return message.method !== "tools/call" || plainTools.has(named) ? message : undefined;
}

/**
 * The SDK's status for an answer produced by a handler: 200 with the
 * JSON-RPC error as the payload, except a missing client capability, which
 * the 2026-07-28 revision answers with 400 wherever it arises.
 */
function statusOf(response: JSONRPCResponse): number {
  return "error" in response &&
    response.error.code === ProtocolErrorCode.MissingRequiredClientCapability
    ? 400
    : 200;
}

function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}
