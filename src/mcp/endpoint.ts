import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import cors from "cors";
import { type Request, type Response, Router } from "express";
import { requireBearer } from "../auth/bearer.js";
import { ALL_SCOPES } from "../auth/scopes.js";
import type { JwtVerifier } from "../auth/verifier.js";
import { jsonBody } from "../http/json-body.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import { checkOrigin } from "../http/origin.js";
import { scopeGate } from "./scope-gate.js";
import { createMcpServer, type McpServerOptions } from "./server.js";

export interface McpEndpointOptions extends McpServerOptions {
  verifier: JwtVerifier;
  resourceMetadataUrl: string;
  allowedOrigins: readonly string[];
}

/**
 * `/mcp`, read top to bottom: Origin → bearer token → body → scope gate →
 * MCP transport → tool → backend. Stateless: every POST gets a fresh server
 * and transport, so any instance can answer any request.
 */
export function mcpEndpoint(options: McpEndpointOptions): Router {
  const router = Router();
  const browserAccess = cors({
    origin: [...options.allowedOrigins],
    methods: ["POST"],
    allowedHeaders: [
      "Authorization",
      "Content-Type",
      "Accept",
      "Mcp-Protocol-Version",
      "Last-Event-ID",
    ],
    exposedHeaders: ["WWW-Authenticate", "Mcp-Protocol-Version"],
    maxAge: 600,
  });

  router.options("/mcp", checkOrigin(options.allowedOrigins), browserAccess);
  router.post(
    "/mcp",
    checkOrigin(options.allowedOrigins),
    browserAccess,
    requireBearer({
      verifier: options.verifier,
      resourceMetadataUrl: options.resourceMetadataUrl,
      challengeScopes: ALL_SCOPES,
    }),
    ...jsonBody,
    scopeGate(options.tools, options.resourceMetadataUrl),
    async (req: Request, res: Response) => {
      const server = createMcpServer(options);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req, res, req.body);
      } catch (error) {
        options.logger.error({ err: error }, "MCP request failed");
        if (!res.headersSent) sendRpcError(res, 500, RpcError.ServerError, "Internal error");
      }
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
  return router;
}
