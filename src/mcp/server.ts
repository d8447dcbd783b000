import {
  type AuthInfo,
  type McpRequestContext,
  McpServer,
  type ScopeChallengeHandler,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/server";
import type { Auditor } from "../audit/auditor.js";
import { authorize } from "../auth/policy.js";
import type { Logger } from "../logger.js";
import type { AuditTrail } from "../store/types.js";
import type { ReadBudget, WorkflowBackend } from "../workflows/backend.js";
import { toolCallback } from "./call.js";
import type { Catalogue } from "./catalogue.js";
import { requestsIn, toolCallOf } from "./messages.js";
import { requirementOf } from "./requirements.js";
import type { ServerParts } from "./scope.js";
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
  /** Each request's share of the memory answers in flight may take (src/http/answer-budget.ts). */
  budgetOf?(auth: AuthInfo | undefined): ReadBudget;
}

const INSTRUCTIONS =
  "Trigger and inspect workflow task runs. Start with list_tasks, run one with start_task_run, follow it with get_task_run (wait_seconds to wait) and get_task_run_logs. whoami shows what your token allows.";

/**
 * The 2026-07-28 revision, which the SDK serves per request (it does not
 * export its list of modern revisions). An instance for that era lists it
 * among its versions from the start, as the SDK's entry adds it to the
 * instances it serves; so a long-lived instance (shared.ts) is bound to it
 * when connected, as the SDK documents.
 */
export const MODERN_REVISION = "2026-07-28";

/**
 * Tool lists and discovery are the same for every caller (every tool is
 * listed with the scopes it needs), so shared caches may keep them; they
 * change only when the server is redeployed.
 */
const SAME_FOR_EVERYONE = { ttlMs: 300_000, cacheScope: "public" } as const;

/**
 * McpServers over the catalogue built once at start: the per-request ones
 * for `createMcpHandler` and the legacy leg, and the two long-lived ones of
 * shared.ts (built with no request, so with everything). No server holds a
 * caller: handlers read it from each request (scope.ts). Both protocol eras
 * get the same tools; the Tasks extension's methods exist only on the
 * 2026-07-28 era, where a client declares extensions per request.
 *
 * `messageOf` gives the request's parsed body, when known: a per-request
 * server registers only what its request can use, most of its cost otherwise
 * (see `needs`).
 */
export function serverFactory(
  options: ServerFactoryOptions,
  messageOf: (ctx: McpRequestContext) => unknown = () => undefined,
) {
  const { catalogue, backend } = options;
  const parts: ServerParts = {
    backend,
    auditor: options.auditor,
    audit: options.audit,
    logger: options.logger,
    catalogue: catalogue.requirements,
    ...(options.budgetOf ? { budgetOf: options.budgetOf } : {}),
  };
  // Handlers take their caller from each request's context (scope.ts), so
  // they are built once and every server shares them.
  const tools = catalogue.entries.map((entry) => ({
    name: entry.definition.name,
    registration: {
      ...entry.registration,
      scopeChallenge: scopeChallenge(entry.definition, backend),
    },
    callback: toolCallback(entry, parts),
  }));
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  return (ctx: McpRequestContext): McpServer => {
    const server = new McpServer(
      { name: options.name, version: options.version },
      {
        capabilities: { tools: { listChanged: false } },
        instructions: INSTRUCTIONS,
        cacheHints: { "tools/list": SAME_FOR_EVERYONE, "server/discover": SAME_FOR_EVERYONE },
        ...(ctx.era === "modern"
          ? { supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, MODERN_REVISION] }
          : {}),
      },
    );
    const need = needs(messageOf(ctx));
    const called = need.tool === undefined ? undefined : byName.get(need.tool);
    for (const { name, registration, callback } of called ? [called] : tools) {
      server.registerTool(name, registration, callback);
    }
    if (ctx.era === "modern") registerTaskMethods(server, parts, { handlers: need.taskMethods });
    return server;
  };
}

/**
 * What a request needs registered to be answered exactly as a server with
 * everything would answer it: a call of a tool only that tool (an unknown
 * name gets them all, so the SDK's "not found" is unchanged); the Tasks
 * extension's handlers only a tasks/ method. Anything else, a batch included,
 * gets everything.
 */
export function needs(message: unknown): { tool?: string; taskMethods: boolean } {
  const [request] = requestsIn(message);
  if (!request || Array.isArray(message)) return { taskMethods: true };
  if (request.method === "tools/call") {
    const call = toolCallOf(request);
    return call ? { tool: call.name, taskMethods: false } : { taskMethods: false };
  }
  return { taskMethods: request.method.startsWith("tasks/") };
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
