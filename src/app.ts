import "./http/types.js";
import express, { type NextFunction, type Request, type Response } from "express";
import { resourceMetadataRouter, resourceMetadataUrl } from "./auth/metadata.js";
import { ALL_SCOPES } from "./auth/scopes.js";
import type { JwtVerifier } from "./auth/verifier.js";
import type { Config } from "./config.js";
import { requestLog } from "./http/request-log.js";
import type { Logger } from "./logger.js";
import { mcpEndpoint } from "./mcp/endpoint.js";
import type { ToolDefinition } from "./mcp/tool.js";
import type { WorkflowBackend } from "./workflows/backend.js";

export interface AppOptions {
  config: Config;
  issuer: string;
  verifier: JwtVerifier;
  backend: WorkflowBackend;
  tools: readonly ToolDefinition[];
  logger: Logger;
  version: string;
}

export function createApp({
  config,
  issuer,
  verifier,
  backend,
  tools,
  logger,
  version,
}: AppOptions) {
  const app = express();
  app.disable("x-powered-by");
  app.use(requestLog(logger));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.use(
    resourceMetadataRouter({
      resource: config.resource,
      authorizationServer: issuer,
      scopes: ALL_SCOPES,
      resourceName: "workflows-mcp",
    }),
  );
  app.use(
    mcpEndpoint({
      name: "workflows-mcp",
      version,
      tools,
      backend,
      logger,
      verifier,
      resourceMetadataUrl: resourceMetadataUrl(config.resource),
      allowedOrigins: config.allowedOrigins,
    }),
  );

  app.use((req: Request, res: Response) => {
    res
      .status(404)
      .json({ error: "not_found", error_description: `No route for ${req.method} ${req.path}` });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, "unhandled request error");
    if (!res.headersSent)
      res.status(500).json({ error: "server_error", error_description: "Internal error" });
  });
  return app;
}
