import type Database from "better-sqlite3";
import type { StartedBy } from "../../run.js";
import { statement } from "../db/statement.js";

export interface NewRun {
  id: string;
  task: string;
  /** The validated positional arguments. */
  input: unknown[];
  parentId?: string;
  rootId: string;
  depth: number;
  /** A subtask carries its root run's. */
  startedBy?: StartedBy;
  /** The span its attempts continue (telemetry on): the start's, or a subtask's parent attempt's. */
  traceParent?: string;
}

/** A new run, pending, with its first attempt waiting to start. */
export function insertRun(db: Database.Database, run: NewRun): void {
  const at = new Date().toISOString();
  const input = JSON.stringify(run.input);
  db.transaction(() => {
    statement(
      db,
      `INSERT INTO runs (id, task, status, input, input_bytes, parent_id, root_id, depth, created_at, owner_issuer, owner_subject, owner_client_id, started_by_at, started_by_trace_id, trace_parent)
VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      run.id,
      run.task,
      input,
      Buffer.byteLength(input),
      run.parentId ?? null,
      run.rootId,
      run.depth,
      at,
      run.startedBy?.issuer ?? null,
      run.startedBy?.subject ?? null,
      run.startedBy?.clientId ?? null,
      run.startedBy?.at ?? null,
      run.startedBy?.traceId ?? null,
      run.traceParent ?? null,
    );
    statement(
      db,
      "INSERT INTO attempts (run_id, attempt, status, enqueued_at, reason) VALUES (?, 1, 'pending', ?, 'first')",
    ).run(run.id, at);
  })();
}
