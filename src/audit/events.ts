import { ApprovalNotFound, DecisionNotAllowed } from "../approvals/errors.js";
import type { Caller } from "../auth/caller.js";
import { boundedText } from "../http/bounded.js";
import type { Demand } from "../mcp/requirements.js";
import { isWorkflowError } from "../mcp/results.js";
import type { AuditEvent } from "../store/types.js";
import { RunNotFound } from "../workflows/errors.js";

/**
 * What every audit event about a caller's request starts with: when, who
 * (from the verified token only), what it called and the decision.
 */
export function auditEvent(
  caller: Caller,
  tool: string,
  decision: AuditEvent["decision"],
): Pick<AuditEvent, "at" | "issuer" | "subject" | "clientId" | "tool" | "decision"> {
  return {
    at: new Date().toISOString(),
    issuer: caller.issuer,
    subject: caller.subject,
    ...(caller.clientId ? { clientId: caller.clientId } : {}),
    tool,
    decision,
  };
}

/**
 * What the audit says of a call that threw: a run the caller cannot see
 * (or that does not exist) is a refusal; anything else a failure, with its code.
 */
export function failureOf(error: unknown): Pick<AuditEvent, "decision" | "outcome" | "reason"> {
  if (error instanceof RunNotFound || error instanceof ApprovalNotFound) {
    return { decision: "refused", outcome: "not_found", reason: error.code };
  }
  if (error instanceof DecisionNotAllowed) {
    return { decision: "refused", outcome: "not_allowed", reason: error.code };
  }
  return {
    decision: "allowed",
    outcome: "failed",
    reason: isWorkflowError(error) ? error.code : "ERR_INTERNAL",
  };
}

/** A call the scope policy refused (403): what it called, the task it named, the scopes missing. */
export function scopeRefusal(
  caller: Caller,
  demand: Demand,
  missing: readonly string[],
): AuditEvent {
  return {
    ...auditEvent(caller, boundedText(demand.target), "refused"),
    ...(demand.task === undefined ? {} : { task: demand.task }),
    outcome: "insufficient_scope",
    reason: missing.join(" "),
  };
}

/** A request refused before any caller was known (401): no token, or one that failed its checks. */
export function tokenRefusal(outcome: "no_token" | "invalid_token", reason?: string): AuditEvent {
  return {
    at: new Date().toISOString(),
    decision: "refused",
    outcome,
    ...(reason ? { reason } : {}),
  };
}
