import { fingerprint } from "../opaque-cursor.js";
import type { ListRunsQuery, RunAccess } from "./backend.js";
import type { Principal, StartedBy } from "./run.js";

/** Runs belong to an issuer and subject together, never to a client. */
export const sameOwner = (a: Principal, b: Principal): boolean =>
  a.issuer === b.issuer && a.subject === b.subject;

/** Whether `access` reaches a run started by `startedBy` (undefined: started elsewhere, or before owners were recorded). */
export function reaches(access: RunAccess, startedBy: StartedBy | undefined): boolean {
  return access.kind === "all" || (startedBy !== undefined && sameOwner(access.owner, startedBy));
}

/**
 * What a list cursor is bound to: the filters and whose runs, as a digest
 * (a cursor does not spell out who its caller is). A cursor is honoured only
 * for the query, and the caller, it was issued to.
 */
export function listQueryDigest(query: Pick<ListRunsQuery, "task" | "status" | "access">): string {
  const whose =
    query.access.kind === "all"
      ? ["all"]
      : ["own", query.access.owner.issuer, query.access.owner.subject];
  return fingerprint([whose, query.task ?? null, [...new Set(query.status ?? [])].sort()]);
}
