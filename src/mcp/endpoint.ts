import { getRequestListener } from "@hono/node-server";
import { createMcpHandler, type McpHttpHandler } from "@modelcontextprotocol/server";
import { type Request, type RequestHandler, type Response, Router } from "express";
import type { Auditor } from "../audit/auditor.js";
import { requireBearer } from "../auth/bearer.js";
import type { AnswerBudget } from "../http/answer-budget.js";
import { browserAccess } from "../http/browser-access.js";
import { whenClosed } from "../http/closed.js";
import { checkHost } from "../http/host.js";
import { jsonBody, MAX_BODY_BYTES } from "../http/json-body.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import { checkOrigin } from "../http/origin.js";
import type { RateLimits } from "../http/rate-limit.js";
import type { Logger } from "../logger.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { scopeGate } from "./gate.js";
import { legacyStatelessHandler } from "./legacy.js";
import { type ServerFactoryOptions, serverFactory } from "./server.js";
import { sharedServers } from "./shared.js";

export interface McpEndpointOptions extends ServerFactoryOptions {
  verifier: {
    verifyAccessToken: Parameters<typeof requireBearer>[0]["verifier"]["verifyAccessToken"];
  };
  resourceMetadataUrl: string;
  allowedOrigins: readonly string[];
  /** Hostnames the `Host` header may name (DNS-rebinding protection); undefined: no check. */
  allowedHosts?: readonly string[];
  auditor: Auditor;
  logger: Logger;
  backend: WorkflowBackend;
  limits: Pick<RateLimits, "byAddress" | "inFlight" | "byCaller" | "runStarts">;
  /** The memory answers in flight may hold; each request gets its share once authenticated. */
  answers: AnswerBudget;
}

export interface McpEndpoint {
  router: Router;
  /** Aborts in-flight exchanges (shutdown). */
  close(): Promise<void>;
}

/**
 * `/mcp`, read top to bottom: Host → Origin → CORS → address limits (429) →
 * bearer token (401/503) → caller limits: in flight, then per minute (429) →
 * body (413/415/400) → gate
 * (400/403) → run-start limits (429) → the shared servers for the common
 * requests (shared.ts), else the SDK's per-request handler for the request's
 * era (2026-07-28, or 2025 served statelessly) → tool → backend.
 * Stateless: any instance answers any request.
 */
export function mcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  // The body each request's server is built for (see serverFactory), by the Request the SDK is given.
  const bodies = new WeakMap<globalThis.Request, unknown>();
  const factory = serverFactory(
    { ...options, budgetOf: (auth) => options.answers.shareOf(auth) },
    (ctx) => ctx.requestInfo && bodies.get(ctx.requestInfo),
  );
  const handler: McpHttpHandler = createMcpHandler(factory, {
    // The gate has classified every request; 2025-era ones go to `legacy` below.
    legacy: "reject",
    maxRequestBodySize: MAX_BODY_BYTES,
    onerror: (error) => options.logger.debug({ err: error }, "MCP request refused or failed"),
  });
  const legacy = legacyStatelessHandler(factory, MAX_BODY_BYTES);
  const shared = sharedServers(factory, options.catalogue);
  // Node ↔ Fetch: @hono/node-server's bridge (the one the SDK's Node transport
  // uses) builds the Request lazily and writes a JSON answer in one go, with
  // its length; measured against toNodeHandler in `npm run bench`.
  const serve = getRequestListener(
    (request, env) => {
      const req = env.incoming as Request;
      const res = env.outgoing as Response;
      const exchange = { ...(req.auth ? { authInfo: req.auth } : {}), parsedBody: req.body };
      bodies.set(request, req.body);
      return res.locals.era === "legacy"
        ? legacy(request, { ...exchange, closed: whenClosed(res) })
        : handler.fetch(request, exchange);
    },
    {
      errorHandler: (error) => {
        options.logger.error({ err: error }, "MCP request failed");
        return internalError();
      },
    },
  );
  const originCheck = checkOrigin(options.allowedOrigins);
  const browser = browserAccess(options.allowedOrigins);
  const hostCheck: RequestHandler[] = options.allowedHosts ? [checkHost(options.allowedHosts)] : [];

  const router = Router();
  router.options("/mcp", ...hostCheck, originCheck, browser.preflight);
  router.post(
    "/mcp",
    ...hostCheck,
    originCheck,
    browser.actual,
    ...options.limits.byAddress,
    requireBearer(options),
    // Before the per-minute budget: a request refused for being one too many at once spends none of it.
    ...options.limits.inFlight,
    options.answers.attach,
    ...options.limits.byCaller,
    ...jsonBody,
    scopeGate({
      tools: options.catalogue.byName,
      backend: options.backend,
      resourceMetadataUrl: options.resourceMetadataUrl,
      auditor: options.auditor,
    }),
    ...options.limits.runStarts,
    async (req: Request, res: Response) => {
      if (await shared.answer(req, res)) return;
      await serve(req, res);
    },
  );
  router.all("/mcp", (_req, res) => {
    res.set("Allow", "POST");
    sendRpcError(
      res,
      405,
      RpcError.ServerError,
      "Method not allowed: this stateless endpoint takes POST only",
    );
  });
  return {
    router,
    close: async () => {
      await Promise.all([handler.close(), shared.close()]);
    },
  };
}

/** A JSON-RPC internal error with no detail: what failed is in the server's log. */
const internalError = () =>
  Response.json(
    {
      jsonrpc: "2.0",
      error: { code: RpcError.InternalError, message: "Internal server error" },
      id: null,
    },
    { status: 500 },
  );
