import {
  type AuthInfo,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type MessageClassification,
  PerRequestHTTPServerTransport,
  type ScopeChallengeHandler,
  type TransportSendOptions,
} from "@modelcontextprotocol/server";

/** What an exchange ended with: the answer, or why there is none. */
export type ExchangeOutcome =
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
