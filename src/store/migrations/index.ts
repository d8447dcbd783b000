import type { Migration } from "../../db/migrate.js";
import ownedRunsAndAuditEvents from "./001-owned-runs-and-audit-events.js";
import finishedOwnedRuns from "./002-finished-owned-runs.js";
import approvalRequests from "./003-approval-requests.js";
import traceIds from "./004-trace-ids.js";

/** The store's schema (owned runs, the audit trail, approval requests), oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  ownedRunsAndAuditEvents,
  finishedOwnedRuns,
  approvalRequests,
  traceIds,
];
