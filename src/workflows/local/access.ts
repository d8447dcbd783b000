import type { RunAccess, RunAction } from "../backend.js";
import { RunNotFound } from "../errors.js";
import { allRunsAccess, message } from "../message.js";
import type { Principal } from "../run.js";

/** Runs of one caller share this key: issuer and subject, never the client. Unowned runs share "". */
export const ownerKey = (owner: Principal | undefined): string =>
  owner ? JSON.stringify([owner.issuer, owner.subject]) : "";

/** The condition `access` puts on the runs table, applied in every query so pages stay full. */
export function accessCondition(access: RunAccess): { sql: string; params: string[] } {
  return access.kind === "all"
    ? { sql: "1 = 1", params: [] }
    : {
        sql: "owner_issuer = ? AND owner_subject = ?",
        params: [access.owner.issuer, access.owner.subject],
      };
}

/**
 * What a run the caller may not see answers, and a run that does not exist
 * too: the message depends only on the caller's access, never on the run.
 */
export function runNotFound(
  id: string,
  access: RunAccess,
  action: RunAction = "read",
): RunNotFound {
  const shown = id.length > 64 ? `${id.slice(0, 63)}…` : id;
  return new RunNotFound(
    access.kind === "all"
      ? `No task run with id "${shown}" (list_task_runs shows the runs there are)`
      : message`No task run with id "${shown}" among the runs you started (list_task_runs shows them; runs started by others need ${allRunsAccess(action)})`,
  );
}
