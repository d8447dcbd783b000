import type { AuthInfo, ServerContext } from "@modelcontextprotocol/server";
import type { Approvals } from "../approvals/service.js";
import type { Auditor } from "../audit/auditor.js";
import { type Caller, callerOf } from "../auth/caller.js";
import type { Logger } from "../logger.js";
import type { AuditTrail } from "../store/types.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { ReadBudget, WorkflowBackend } from "../workflows/backend.js";
import type { Confirmation } from "./confirmation.js";
import type { ToolRequirement } from "./tool.js";

/** The server's parts every handler uses, the same for every request. */
export interface ServerParts {
  backend: WorkflowBackend;
  auditor: Auditor;
  audit: AuditTrail;
  logger: Logger;
  catalogue: readonly { name: string; requires: ToolRequirement }[];
  /** Approval requests, where some task needs a person's approval (APPROVAL_TASKS). */
  approvals?: Approvals;
  /** Sends a person to the approval page by URL elicitation, where the client can open one. */
  confirmation?: Confirmation;
  /** The memory the request may spend on its answer (src/http/answer-budget.ts); absent: unbounded. */
  budgetOf?(auth: AuthInfo | undefined): ReadBudget;
  /** OpenTelemetry; absent: off. */
  telemetry?: Telemetry;
}

/** What one request's handler works with: the server's parts, who is calling, its answer budget. */
export interface RequestContext extends ServerParts {
  caller: Caller;
  budget: ReadBudget;
  /** The call's trace id (telemetry on): its audit events and the runs it starts record it. */
  traceId?: string;
}

/**
 * A handler's context, from the token its request's transport verified (the
 * SDK hands it to every handler as `ctx.http.authInfo`), never from anything
 * the server instance holds: one instance serves many callers in turn.
 */
export function contextOf(parts: ServerParts, ctx: ServerContext): RequestContext {
  const auth = ctx.http?.authInfo;
  const context: RequestContext = {
    ...parts,
    caller: callerOf(auth),
    budget: parts.budgetOf?.(auth) ?? UNBOUNDED,
  };
  if (parts.telemetry) {
    // The backend's calls are spans under this call's message; its trace id goes with its runs.
    const call = parts.telemetry.call(auth, ctx.mcpReq.id, parts.backend);
    context.backend = call.backend;
    if (call.traceId !== undefined) context.traceId = call.traceId;
  }
  return context;
}

const UNBOUNDED: ReadBudget = { admit: () => {} };
