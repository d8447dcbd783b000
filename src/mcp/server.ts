import {
  type AuthInfo,
  type McpRequestContext,
  McpServer,
  type ScopeChallengeHandler,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/server";
import type { Approvals } from "../approvals/service.js";
import type { Auditor } from "../audit/auditor.js";
import { authorize } from "../auth/policy.js";
import type { Logger } from "../logger.js";
import type { AuditTrail } from "../store/types.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { ReadBudget, WorkflowBackend } from "../workflows/backend.js";
import { authorizedAlready } from "./authorize.js";
import { toolCallback } from "./call.js";
import type { Catalogue } from "./catalogue.js";
import { Confirmation } from "./confirmation.js";
import type { ServerParts } from "./context.js";
import { approvalIdOf, requirementOf } from "./requirements.js";
import { MODERN_REVISION } from "./revision.js";
import { taskMethodHandlers } from "./tasks/methods.js";
import type { ToolDefinition } from "./tool.js";

export interface ServerFactoryOptions {
  name: string;
  version: string;
  catalogue: Catalogue;
  backend: WorkflowBackend;
  auditor: Auditor;
  audit: AuditTrail;
  logger: Logger;
  /** Each request's share of the memory answers in flight may take (src/http/answer-budget.ts). */
  budgetOf?(auth: AuthInfo | undefined): ReadBudget;
  /** Approval requests, where some task needs a person's approval (APPROVAL_TASKS). */
  approvals?: Approvals;
  /** Seals the state of URL-elicitation rounds (approvals): the same on every instance. */
  requestStateKey?: Uint8Array;
  /** Handlers run in their message's span; runs record the trace of the call that started them. */
  telemetry?: Telemetry;
}

const INSTRUCTIONS =
  "Trigger and inspect workflow task runs. Start with list_tasks, run one with start_task_run, follow it with get_task_run (wait_seconds to wait) and get_task_run_logs. whoami shows what your token allows.";

/**
 * Tool lists and discovery are the same for every caller (every tool is
 * listed with the scopes it needs), so shared caches may keep them; they
 * change only when the server is redeployed.
 */
const SAME_FOR_EVERYONE = { ttlMs: 300_000, cacheScope: "public" } as const;

/**
 * McpServers over the catalogue built once at start: the two long-lived
 * ones of the fast path and the per-request ones of the SDK's own serving
 * (serve.ts). No server holds a caller: handlers read it from each request
 * (context.ts), so every server shares the same handlers. Both protocol eras
 * get the same tools; the Tasks extension's methods exist only on the
 * 2026-07-28 era, where a client declares extensions per request.
 */
export function serverFactory(options: ServerFactoryOptions) {
  const { catalogue, backend } = options;
  const confirmation =
    options.approvals && options.requestStateKey
      ? new Confirmation(options.requestStateKey, options.approvals)
      : undefined;
  const parts: ServerParts = {
    backend,
    auditor: options.auditor,
    audit: options.audit,
    logger: options.logger,
    catalogue: catalogue.requirements,
    ...(options.budgetOf ? { budgetOf: options.budgetOf } : {}),
    ...(options.approvals ? { approvals: options.approvals } : {}),
    ...(confirmation ? { confirmation } : {}),
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
  };
  const tools = catalogue.entries.map((entry) => ({
    name: entry.definition.name,
    registration: {
      ...entry.registration,
      scopeChallenge: scopeChallenge(entry.definition, backend, options.approvals),
    },
    callback: toolCallback(entry, parts),
  }));
  const taskMethods = taskMethodHandlers(parts, catalogue);
  return (ctx: McpRequestContext): McpServer => {
    const server = new McpServer(
      { name: options.name, version: options.version },
      {
        capabilities: { tools: { listChanged: false } },
        instructions: INSTRUCTIONS,
        cacheHints: { "tools/list": SAME_FOR_EVERYONE, "server/discover": SAME_FOR_EVERYONE },
        ...(confirmation ? { requestState: { verify: confirmation.verify } } : {}),
        ...(ctx.era === "modern"
          ? { supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, MODERN_REVISION] }
          : {}),
      },
    );
    for (const { name, registration, callback } of tools) {
      server.registerTool(name, registration, callback);
    }
    if (ctx.era === "modern") taskMethods.register(server);
    return server;
  };
}

/**
 * The tool-level check, in the SDK's own pipeline: the same policy
 * authorizeRequest applies, so a tool never runs without its scopes
 * whatever sits in front of the handler (the SDK answers 403
 * insufficient_scope before dispatch, for each message of a batch too).
 * When authorizeRequest has already allowed the request, the policy is not
 * evaluated twice; this is the line that holds if it is ever bypassed.
 */
function scopeChallenge(
  tool: ToolDefinition,
  backend: WorkflowBackend,
  approvals: Approvals | undefined,
): ScopeChallengeHandler {
  return async ({ request, authInfo }: { request: { params?: unknown }; authInfo?: AuthInfo }) => {
    if (authorizedAlready(authInfo)) return undefined;
    const params = request.params as { arguments?: unknown } | undefined;
    const approvalId = approvalIdOf(tool.requires, params?.arguments);
    const targets =
      approvalId !== undefined && approvals ? await approvals.targetsOf([approvalId]) : undefined;
    const decision = authorize(
      requirementOf(tool.requires, params?.arguments, backend, targets),
      authInfo?.scopes ?? [],
    );
    if (decision.allowed) return undefined;
    const [first, ...rest] = decision.challenge as [string, ...string[]];
    return {
      scopes: [first, ...rest],
      errorDescription: `${tool.name} requires ${decision.missing.join(" ")}`,
    };
  };
}
