import type { AuthInfo } from "@modelcontextprotocol/server";
import { visibility } from "../auth/scopes.js";
import type { AuditEvent } from "../store/types.js";
import type { RunAccess } from "../workflows/backend.js";
import { RunNotFound } from "../workflows/errors.js";
import type { StartedBy } from "../workflows/run.js";
import { isWorkflowError } from "./results.js";
import type { Caller } from "./tool.js";

/** The caller the verified token names (src/auth/verifier.ts puts subject and issuer in `extra`). */
export function callerOf(auth: AuthInfo | undefined): Caller {
  const extra = auth?.extra ?? {};
  return {
    issuer: typeof extra.issuer === "string" ? extra.issuer : "",
    subject: typeof extra.subject === "string" ? extra.subject : "",
    clientId: auth?.clientId ?? "",
    scopes: auth?.scopes ?? [],
    ...(auth?.expiresAt === undefined ? {} : { expiresAt: auth.expiresAt }),
  };
}

/** The owner recorded on a run the caller starts: only ever from its verified token. */
export function startedByOf(caller: Caller, at = new Date()): StartedBy {
  return {
    issuer: caller.issuer,
    subject: caller.subject,
    ...(caller.clientId ? { clientId: caller.clientId } : {}),
    at: at.toISOString(),
  };
}

/** The runs a caller may see for an action: every run with the `:all` scope, else its own. */
export function accessFor(caller: Caller, action: "read" | "cancel"): RunAccess {
  return visibility(caller.scopes, action) === "all"
    ? { kind: "all" }
    : { kind: "own", owner: { issuer: caller.issuer, subject: caller.subject } };
}

/**
 * What every audit event about a caller's request starts with: when, who
 * (from the verified token only), what it called and the decision.
 */
export function auditEventOf(
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
  if (error instanceof RunNotFound) {
    return { decision: "refused", outcome: "not_found", reason: error.code };
  }
  return {
    decision: "allowed",
    outcome: "failed",
    reason: isWorkflowError(error) ? error.code : "ERR_INTERNAL",
  };
}
