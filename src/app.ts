import "./http/types.js";
import express, { type NextFunction, type Request, type Response } from "express";
import { approvalKeys } from "./approvals/keys.js";
import { approvalPageRouter } from "./approvals/page/router.js";
import type { Approvals } from "./approvals/service.js";
import type { Auditor } from "./audit/auditor.js";
import { loopbackResource } from "./auth/loopback-resource.js";
import { resourceMetadataRouter, resourceMetadataUrl } from "./auth/metadata.js";
import type { JwtVerifier } from "./auth/verifier.js";
import type { Config } from "./config.js";
import { AnswerBudget } from "./http/answer-budget.js";
import { refuseDuplicateHeaders } from "./http/duplicate-headers.js";
import type { RateLimits } from "./http/rate-limit.js";
import { requestLog } from "./http/request-log.js";
import type { Logger } from "./logger.js";
import type { Catalogue } from "./mcp/catalogue.js";
import { type McpEndpointOptions, mcpEndpoint } from "./mcp/endpoint.js";
import type { AuditTrail } from "./store/types.js";
import { NO_TELEMETRY, type Telemetry } from "./telemetry/telemetry.js";
import type { WorkflowBackend } from "./workflows/backend.js";

export interface AppOptions {
  config: Config;
  issuer: string;
  verifier: Pick<JwtVerifier, "verifyAccessToken" | "health">;
  backend: WorkflowBackend;
  catalogue: Catalogue;
  audit: AuditTrail;
  auditor: Auditor;
  limits: RateLimits;
  logger: Logger;
  version: string;
  /** Approval requests, where some task needs a person's approval (APPROVAL_TASKS). */
  approvals?: Approvals;
  /** OpenTelemetry (src/telemetry/); off by default. */
  telemetry?: Telemetry;
  /** Test-only switches of the /mcp route (both on in the server): see McpEndpointOptions. */
  endpoint?: Pick<McpEndpointOptions, "fastPath" | "authorize">;
}

export const SERVER_NAME = "workflows-mcp";

export function createApp(options: AppOptions) {
  const { config, verifier, backend, logger } = options;
  const telemetry = options.telemetry ?? NO_TELEMETRY;
  const app = express();
  app.disable("x-powered-by");
  // Client addresses (per-address rate limits) from the trusted proxies' X-Forwarded-For only.
  app.set("trust proxy", config.trustProxy);
  app.use(requestLog(logger));
  for (const step of telemetry.requests) app.use(step);
  // Before any route: which host or which caller a request is for must not depend on who reads it.
  app.use(refuseDuplicateHeaders);

  // Healthy once the issuer's keys were fetched: a deploy whose issuer never
  // answers must not go live; a later outage of the issuer keeps cached keys
  // working, so it reports `degraded` but stays 200.
  app.get("/healthz", (_req, res) => {
    const health = verifier.health();
    const status = !health.ready ? "unavailable" : health.state === "degraded" ? "degraded" : "ok";
    res
      .status(health.ready ? 200 : 503)
      .set("Cache-Control", "no-store")
      .json(status === "ok" ? { status } : { status, detail: health.detail });
  });
  if (config.loopbackResources) app.use(loopbackResource(config.loopbackResources));
  app.use(
    resourceMetadataRouter({
      resource: config.resource,
      authorizationServer: options.issuer,
      resourceName: SERVER_NAME,
      taskNames: async () => (await backend.listTasks()).map((task) => task.name),
      ...(options.approvals
        ? {
            approverTasks: (tasks: string[]) =>
              options.approvals?.policy.approverTasks(tasks) ?? [],
          }
        : {}),
      logger,
    }),
  );
  // The approval page: a person signed in at the issuer decides (it reads req.loopback, set above).
  if (options.approvals) {
    // Anyone may load it (it signs them in): each address within the budget /mcp gives it.
    app.use("/approvals", ...options.limits.byAddress);
    app.use(
      approvalPageRouter({
        approvals: options.approvals,
        verifier,
        issuer: options.issuer,
        config,
        logger,
      }),
    );
  }
  const answers = new AnswerBudget(config.limits.answerBytesInFlight);
  const keys = approvalKeys(config.approvals?.secret);
  const endpoint = mcpEndpoint({
    name: SERVER_NAME,
    version: options.version,
    catalogue: options.catalogue,
    backend,
    audit: options.audit,
    auditor: options.auditor,
    logger,
    verifier,
    resourceMetadataUrl: resourceMetadataUrl(config.resource),
    allowedOrigins: config.allowedOrigins,
    allowedHosts: config.allowedHosts,
    limits: options.limits,
    answers,
    ...(options.approvals
      ? { approvals: options.approvals, requestStateKey: keys("request state") }
      : {}),
    telemetry,
    ...options.endpoint,
  });
  app.use(endpoint.router);

  app.use((req: Request, res: Response) => {
    res.status(404).json({
      error: "not_found",
      error_description: `No route for ${req.method} ${req.path.slice(0, 200)}`,
    });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, "unhandled request error");
    if (!res.headersSent)
      res.status(500).json({ error: "server_error", error_description: "Internal error" });
  });
  return { app, close: endpoint.close, fastPathAnswers: endpoint.fastPathAnswers };
}
