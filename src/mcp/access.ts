import type { Caller } from "../auth/caller.js";
import { visibility } from "../auth/scopes.js";
import type { RunAccess } from "../workflows/backend.js";
import type { StartedBy } from "../workflows/run.js";

/**
 * The owner recorded on a run the caller starts: only ever from its verified
 * token; and the trace of the call, when traces are exported.
 */
export function startedByOf(caller: Caller, at = new Date(), traceId?: string): StartedBy {
  return {
    issuer: caller.issuer,
    subject: caller.subject,
    ...(caller.clientId ? { clientId: caller.clientId } : {}),
    at: at.toISOString(),
    ...(traceId === undefined ? {} : { traceId }),
  };
}

/** The runs a caller may see for an action: every run with the `:all` scope, else its own. */
export function accessFor(caller: Caller, action: "read" | "cancel"): RunAccess {
  return visibility(caller.scopes, action) === "all"
    ? { kind: "all" }
    : { kind: "own", owner: { issuer: caller.issuer, subject: caller.subject } };
}
