import {
  type AuthInfo,
  type McpRequestContext,
  McpServer,
  type ScopeChallengeHandler,
} from "@modelcontextprotocol/server";
import type { Auditor } from "../audit/auditor.js";
import { authorize } from "../auth/policy.js";
import type { Logger } from "../logger.js";
import type { AuditTrail } from "../store/types.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { toolCallback } from "./call.js";
import { callerOf } from "./caller.js";
import type { Catalogue } from "./catalogue.js";
import { requirementOf } from "./requirements.js";
import type { RequestScope } from "./scope.js";
import { registerTaskMethods } from "./tasks/methods.js";
import type { ToolDefinition } from "./tool.js";

export interface ServerFactoryOptions {
  name: string;
  version: string;
  catalogue: Catalogue;
  backend: WorkflowBackend;
  auditor: Auditor;
  audit: AuditTrail;
  logger: Logger;
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
 * The per-request server for `createMcpHandler`: a fresh, cheap McpServer
 * over the catalogue built once at start, for one request's caller. Both
 * protocol eras get the same tools; the Tasks extension's methods exist only
 * on the 2026-07-28 era, where a client declares extensions per request.
 */
export function serverFactory(options: ServerFactoryOptions) {
  const { catalogue, backend } = options;
  return ({ era, authInfo }: McpRequestContext): McpServer => {
    const scope: RequestScope = {
      caller: callerOf(authInfo),
      backend,
      auditor: options.auditor,
      audit: options.audit,
      logger: options.logger,
      catalogue: catalogue.requirements,
    };
    const server = new McpServer(
      { name: options.name, version: options.version },
      {
        capabilities: { tools: { listChanged: false } },
        instructions: INSTRUCTIONS,
        cacheHints: { "tools/list": SAME_FOR_EVERYONE, "server/discover": SAME_FOR_EVERYONE },
      },
    );
    for (const entry of catalogue.entries) {
      server.registerTool(
        entry.definition.name,
        { ...entry.registration, scopeChallenge: scopeChallenge(entry.definition, backend) },
        toolCallback(entry, scope),
      );
    }
    if (era === "modern") registerTaskMethods(server, scope);
    return server;
  };
}

/**
 * The tool-level check, in the SDK's own pipeline: the same policy the HTTP
 * gate applies, so a tool never runs without its scopes whatever sits in
 * front of the handler (the SDK answers 403 insufficient_scope before
 * dispatch, for each message of a batch too). The gate answers first in this
 * server; this is the line that holds if it is ever bypassed.
 */
function scopeChallenge(tool: ToolDefinition, backend: WorkflowBackend): ScopeChallengeHandler {
  return ({ request, authInfo }: { request: { params?: unknown }; authInfo?: AuthInfo }) => {
    const params = request.params as { arguments?: unknown } | undefined;
    const decision = authorize(
      requirementOf(tool.requires, params?.arguments, backend),
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
