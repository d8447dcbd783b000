import { type Request, type RequestHandler, type Response, Router } from "express";
import type { Auditor } from "../audit/auditor.js";
import { requireBearer } from "../auth/bearer.js";
import type { AnswerBudget } from "../http/answer-budget.js";
import { browserAccess } from "../http/browser-access.js";
import { checkHost } from "../http/host.js";
import { jsonBody } from "../http/json-body.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import { checkOrigin } from "../http/origin.js";
import type { RateLimits } from "../http/rate-limit.js";
import type { Logger } from "../logger.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { authorizeRequest } from "./authorize.js";
import { fastPath } from "./fast-path.js";
import { perRequestServing } from "./per-request.js";
import { classifyRequest, mcpRequestOf } from "./request.js";
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
  limits: Pick<RateLimits, "byAddress" | "inFlight" | "byCaller" | "runStarts">;
  /** The memory answers in flight may hold; each request gets its share once authenticated. */
  answers: AnswerBudget;
  /**
   * Whether the scope policy is applied in front of the MCP handler (always,
   * in the server): without it, only the tools' own scope checks stand
   * (test/endpoint.test.ts shows that they hold).
   */
  authorize?: boolean;
  /** OpenTelemetry: spans of the token's verification, of each message, of the gate's decisions. */
  telemetry?: Telemetry;
  /** Whether the common requests take the fast path (always, in the server; its contract test compares both). */
  fastPath?: boolean;
}

interface McpEndpoint {
  router: Router;
  /** Requests the fast path answered so far. */
  fastPathAnswers(): number;
  /** Aborts in-flight exchanges (shutdown). */
  close(): Promise<void>;
}

/**
 * `/mcp`, read top to bottom: Host → Origin → CORS → address limit (429) →
 * bearer token (401/503) → caller limits (429) → body (413/415/400) →
 * classification and header agreement (400) → authorization (403) →
 * run-start limit (429) → the fast path for the common requests, else the
 * SDK's per-request serving → tool → backend. Stateless: any instance
 * answers any request.
 */
export function mcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const telemetry = options.telemetry ?? NO_TELEMETRY;
  const factory = serverFactory({
    ...options,
    // Off, the handlers do not ask it anything.
    ...(telemetry === NO_TELEMETRY ? {} : { telemetry }),
    budgetOf: (auth) => options.answers.shareOf(auth),
  });
  const fast =
    options.fastPath === false
      ? undefined
      : fastPath(factory, options.catalogue, (req, response) => telemetry.answered(req, response));
  const perRequest = perRequestServing(telemetry.observed(factory), options.logger);
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
    requireBearer({ ...options, telemetry }),
    // Before the per-minute budget: a request refused for being one too many at once spends none of it.
    ...options.limits.inFlight,
    options.answers.attach,
    ...options.limits.byCaller,
    ...jsonBody,
    classifyRequest({
      tools: options.catalogue.byName,
      backend: options.backend,
      ...(options.approvals ? { approvalTargets: options.approvals.targetsOf } : {}),
    }),
    ...telemetry.messages(new Set(options.catalogue.byName.keys())),
    ...(options.authorize === false
      ? []
      : [
          authorizeRequest({
            resourceMetadataUrl: options.resourceMetadataUrl,
            auditor: options.auditor,
            telemetry,
          }),
        ]),
    ...options.limits.runStarts,
    async (req: Request, res: Response) => {
      if (await fast?.answer(req, res, mcpRequestOf(req))) return;
      await perRequest.serve(req, res);
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
    fastPathAnswers: () => fast?.answered() ?? 0,
    close: async () => {
      await Promise.all([perRequest.close(), fast?.close()]);
    },
  };
}
