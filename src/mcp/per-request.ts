import { getRequestListener } from "@hono/node-server";
import {
  type AuthInfo,
  createMcpHandler,
  type McpServerFactory,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { Request, Response } from "express";
import { whenClosed } from "../http/closed.js";
import { MAX_BODY_BYTES } from "../http/json-body.js";
import { RpcError } from "../http/json-rpc-error.js";
import type { Logger } from "../logger.js";
import { mcpRequestOf } from "./request.js";

/**
 * The SDK's own serving, a server per request, for everything the fast path
 * does not answer (fast-path.ts): `initialize`, batches, notifications,
 * requests asking for progress (answered as SSE), `server/discover`, and
 * any request the long-lived servers refuse before running a handler (so
 * every malformed or refused request gets the SDK's own answer). One leg
 * per protocol era:
 *
 * - 2026-07-28: `createMcpHandler`, the SDK's entry;
 * - 2025-era: the SDK's established stateless way, a fresh server and
 *   `WebStandardStreamableHTTPServerTransport` without sessions, torn down
 *   when the exchange closes — what `createMcpHandler`'s own legacy
 *   fallback does, except that the answer is one JSON body unless the
 *   request asked for progress (the fallback always streams, which costs a
 *   chunked stream and more writes per answer). The 2026-07-28 leg answers
 *   the same way (`auto`).
 *
 * `@hono/node-server`'s bridge (the one the SDK's Node transport uses)
 * connects express to these Fetch-shaped handlers: it builds the Request
 * lazily and writes a JSON answer in one go, with its length.
 */
export function perRequestServing(factory: McpServerFactory, logger: Logger) {
  const modern = createMcpHandler(factory, {
    // Requests are classified before they get here; 2025-era ones take the other leg.
    legacy: "reject",
    maxRequestBodySize: MAX_BODY_BYTES,
    onerror: (error) => logger.debug({ err: error }, "MCP request refused or failed"),
  });
  const serve = getRequestListener(
    (request, env) => {
      const req = env.incoming as Request;
      const res = env.outgoing as Response;
      const mcp = mcpRequestOf(req);
      const authInfo = req.auth;
      const exchange = { ...(authInfo ? { authInfo } : {}), parsedBody: req.body };
      return mcp.era === "legacy"
        ? legacy(factory, request, { ...exchange, streams: mcp.asksForProgress, res })
        : modern.fetch(request, exchange);
    },
    {
      errorHandler: (error) => {
        logger.error({ err: error }, "MCP request failed");
        return internalError();
      },
    },
  );
  return {
    serve: (req: Request, res: Response) => serve(req, res),
    close: () => modern.close(),
  };
}

/** A 2025-era request served by a server and transport of its own. */
async function legacy(
  factory: McpServerFactory,
  request: globalThis.Request,
  exchange: { authInfo?: AuthInfo; parsedBody: unknown; streams: boolean; res: Response },
): Promise<globalThis.Response> {
  const { authInfo, parsedBody } = exchange;
  const server = await factory({
    era: "legacy",
    ...(authInfo ? { authInfo } : {}),
    requestInfo: request,
  });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: !exchange.streams,
    maxRequestBodySize: MAX_BODY_BYTES,
  });
  await server.connect(transport);
  void whenClosed(exchange.res).then(() => {
    transport.close().catch(ignore);
    server.close().catch(ignore);
  });
  return transport.handleRequest(request, { ...(authInfo ? { authInfo } : {}), parsedBody });
}

const ignore = () => {};

/** A JSON-RPC internal error with no detail: what failed is in the server's log. */
const internalError = () =>
  globalThis.Response.json(
    {
      jsonrpc: "2.0",
      error: { code: RpcError.InternalError, message: "Internal server error" },
      id: null,
    },
    { status: 500 },
  );
