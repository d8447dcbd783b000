import type { Dialect } from "../sql.js";
import ownedRunsAndAuditEvents from "./001-owned-runs-and-audit-events.js";
import finishedOwnedRuns from "./002-finished-owned-runs.js";

/**
 * One schema change: a version, a name, and its SQL for each dialect. A
 * migration, once released, never changes: a new change is a new version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: Record<Dialect, string>;
}

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [ownedRunsAndAuditEvents, finishedOwnedRuns];
