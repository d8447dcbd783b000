import { hostHeaderValidation } from "@modelcontextprotocol/express";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, type McpHttpHandler } from "@modelcontextprotocol/server";
import cors from "cors";
import { type Request, type RequestHandler, type Response, Router } from "express";
import type { Auditor } from "../audit/auditor.js";
import { requireBearer } from "../auth/bearer.js";
import { jsonBody, MAX_BODY_BYTES } from "../http/json-body.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import { checkOrigin } from "../http/origin.js";
import type { RateLimits } from "../http/rate-limit.js";
import type { Logger } from "../logger.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { scopeGate } from "./gate.js";
import { type ServerFactoryOptions, serverFactory } from "./server.js";

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
  limits: Pick<RateLimits, "byAddress" | "byCaller" | "runStarts">;
}

export interface McpEndpoint {
  router: Router;
  /** Aborts in-flight exchanges (shutdown). */
  close(): Promise<void>;
}

/**
 * `/mcp`, read top to bottom: Host → Origin → CORS → address limits (429) →
 * bearer token (401/503) → caller limits (429) → body (413/415/400) → gate
 * (400/403) → run-start limits (429) → the SDK's handler
 * (2026-07-28 natively, 2025-era clients through its stateless fallback) →
 * tool → backend. Stateless: any instance answers any request.
 */
export function mcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const handler: McpHttpHandler = createMcpHandler(serverFactory(options), {
    legacy: "stateless",
    maxRequestBodySize: MAX_BODY_BYTES,
    onerror: (error) => options.logger.debug({ err: error }, "MCP request refused or failed"),
  });
  const serve = toNodeHandler(handler, {
    onerror: (error) => options.logger.error({ err: error }, "MCP request failed"),
  });
  const browserAccess = cors({
    origin: [...options.allowedOrigins],
    methods: ["POST"],
    allowedHeaders: [
      "Authorization",
      "Content-Type",
      "Accept",
      "Mcp-Protocol-Version",
      "Mcp-Method",
      "Mcp-Name",
    ],
    exposedHeaders: ["WWW-Authenticate", "Mcp-Protocol-Version", "Retry-After"],
    maxAge: 600,
  });
  const hostCheck: RequestHandler[] = options.allowedHosts
    ? [hostHeaderValidation([...options.allowedHosts])]
    : [];

  const router = Router();
  router.options("/mcp", ...hostCheck, checkOrigin(options.allowedOrigins), browserAccess);
  router.post(
    "/mcp",
    ...hostCheck,
    checkOrigin(options.allowedOrigins),
    browserAccess,
    ...options.limits.byAddress,
    requireBearer(options),
    ...options.limits.byCaller,
    ...jsonBody,
    scopeGate({
      tools: options.catalogue.byName,
      backend: options.backend,
      resourceMetadataUrl: options.resourceMetadataUrl,
      auditor: options.auditor,
    }),
    ...options.limits.runStarts,
    (req: Request, res: Response) => serve(req, res, req.body),
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
  return { router, close: () => handler.close() };
}
