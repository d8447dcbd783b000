import {
  type InboundModernRoute,
  isJsonContentType,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type McpRequestContext,
  type McpServer,
  ProtocolErrorCode,
  parseJSONRPCMessage,
} from "@modelcontextprotocol/server";
import type { Request, Response } from "express";
import { whenClosed } from "../http/closed.js";
import type { Catalogue } from "./catalogue.js";
import { ExchangeTransport } from "./exchange-transport.js";
import { asksForProgress } from "./legacy.js";
import { isRecord } from "./messages.js";
import { MODERN_REVISION } from "./server.js";

/**
 * The common requests, answered by two long-lived servers per process (one
 * per protocol era) instead of a server and a transport built and torn down
 * for each (issue 12: that was most of a request's cost):
 *
 * - 2025-era: one request, not `initialize`, no progress asked;
 * - 2026-07-28: a `tools/call` or `tools/list`, no progress asked.
 *
 * Everything else, and any request these servers refuse before running
 * anything, is served per request by the SDK (`createMcpHandler`, legacy.ts),
 * which also gives every malformed or refused request the SDK's own answer.
 *
 * Still stateless towards clients: each handler takes its caller from its
 * own request (scope.ts); the 2025-era server is never initialized, exactly
 * like a per-request server handed anything but `initialize`; the 2026-07-28
 * server is bound to its revision as the SDK binds a per-request one, and a
 * client's identity travels in each request's envelope, which is what the
 * handlers read. Nothing here depends on which instance answered before.
 * Only requests reach these servers, never a client's notification: no
 * client can address another's request (`notifications/cancelled` names the
 * server's own ids, which only the transport sends).
 */
export function sharedServers(
  factory: (ctx: McpRequestContext) => McpServer,
  catalogue: Catalogue,
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
     * Answers the request with a shared server and returns true, or returns
     * false having written nothing (the caller serves it per request).
     */
    async answer(req: Request, res: Response): Promise<boolean> {
      connecting ??= connect();
      await connecting;
      const era = res.locals.era as "legacy" | "modern" | undefined;
      const [transport, request] =
        era === "legacy"
          ? [legacy, legacyServable(req, legacy.supportedProtocolVersions)]
          : era === "modern" && modernServes
            ? [
                modern,
                modernServable(req, res.locals.route as InboundModernRoute | undefined, plainTools),
              ]
            : [];
      if (!transport || !request) return false;
      const outcome = await transport.exchange(request, {
        ...(req.auth ? { authInfo: req.auth } : {}),
        closed: whenClosed(res),
      });
      if (outcome.kind === "refused") return false;
      if (outcome.kind === "answered") sendJson(res, statusOf(outcome.response), outcome.response);
      return true;
    },
    close: async () => {
      await Promise.all([legacy.close(), modern.close()]);
    },
  };
}

/**
 * A 2025-era request the shared server answers exactly as the SDK's
 * stateless transport would (its checks passed, in its order): a single
 * valid JSON-RPC request, not `initialize`, without a `progressToken`, from
 * a client that accepts both JSON and SSE, naming a supported version or none.
 */
function legacyServable(req: Request, versions: readonly string[]): JSONRPCRequest | undefined {
  const accept = req.headers.accept;
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return;
  if (!isJsonContentType(req.headers["content-type"] ?? null)) return;
  const body: unknown = req.body;
  if (!isRecord(body) || body.method === "initialize" || asksForProgress(body)) return;
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

/**
 * A 2026-07-28 `tools/call` or `tools/list` that passes every check the
 * SDK's entry makes before dispatch (the gate classified it with the SDK's
 * classifier): the standard headers present and equal to the body (plainly,
 * not Base64), the revision the shared server serves, for a call a tool
 * without `Mcp-Param-*` headers, and no progress asked (the SDK would stream).
 */
function modernServable(
  req: Request,
  route: InboundModernRoute | undefined,
  plainTools: ReadonlySet<string>,
): JSONRPCRequest | undefined {
  if (route?.messageKind !== "request") return;
  const { message, classification } = route;
  const { headers } = req;
  if (
    classification.revision !== MODERN_REVISION ||
    headers["mcp-protocol-version"] !== MODERN_REVISION ||
    headers["mcp-method"] !== message.method ||
    asksForProgress(message)
  ) {
    return;
  }
  if (message.method === "tools/list")
    return headers["mcp-name"] === undefined ? message : undefined;
  if (message.method !== "tools/call") return;
  const name = isRecord(message.params) ? message.params.name : undefined;
  return typeof name === "string" && plainTools.has(name) && headers["mcp-name"] === name
    ? message
    : undefined;
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
