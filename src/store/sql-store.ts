import type { SqlDatabase, Statement } from "../db/sql.js";
import type { Logger } from "../logger.js";
import type { Principal } from "../workflows/run.js";
import { SqlApprovals } from "./approvals.js";
import { boundId, boundText, instant, pageSize } from "./bounds.js";
import { queryKey } from "./cursor.js";
import { iso, pageStatement } from "./page-statement.js";
import { optional, SqlQueries, valid } from "./queries.js";
import {
  type ApprovalStore,
  AuditEvent,
  type AuditQuery,
  OwnedRun,
  type OwnedRunsQuery,
  type Store,
} from "./types.js";

interface OwnedRunRow {
  run_id: string;
  task: string;
  issuer: string;
  subject: string;
  client_id: string | null;
  started_at: string | Date;
  trace_id: string | null;
  /** bigint: pg returns it as a string. Read by pages only. */
  seq?: number | string;
}

interface AuditEventRow {
  at: string | Date;
  issuer: string | null;
  subject: string | null;
  client_id: string | null;
  tool: string | null;
  task: string | null;
  run_id: string | null;
  decision: AuditEvent["decision"];
  outcome: string;
  reason: string | null;
  approval_id: string | null;
  requester: string | null;
  trace_id: string | null;
  seq: number | string;
}

const OWNED_RUN_COLUMNS = "run_id, task, issuer, subject, client_id, trace_id";
const AUDIT_COLUMNS =
  "issuer, subject, client_id, tool, task, run_id, decision, outcome, reason, approval_id, requester, trace_id";

/**
 * The Store on either database: the same statements, bounds and cursors, so
 * SQLite and PostgreSQL answer alike. Every value is bounded before it is
 * stored or compared, and filters are applied in the query, so pages are full.
 */
export class SqlStore implements Store {
  private readonly queries: SqlQueries;
  readonly approvals: ApprovalStore;

  constructor(
    readonly kind: Store["kind"],
    private readonly db: SqlDatabase,
    private readonly description: string,
    logger: Logger,
  ) {
    this.queries = new SqlQueries(db, kind, logger);
    this.approvals = new SqlApprovals(this.queries);
  }

  describe(): string {
    return this.description;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async recordRun(run: OwnedRun): Promise<void> {
    const { runId, task, startedBy } = valid(OwnedRun, run, "run");
    await this.run({
      text: `INSERT INTO owned_runs (${OWNED_RUN_COLUMNS}, started_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
      values: [
        boundId(runId),
        boundId(task),
        boundId(startedBy.issuer),
        boundId(startedBy.subject),
        optional(startedBy.clientId, boundId) ?? null,
        startedBy.traceId ?? null,
        instant(startedBy.at, "startedBy.at"),
      ],
    });
  }

  async ownedRun(runId: string): Promise<OwnedRun | undefined> {
    const [row] = await this.all<OwnedRunRow>({
      text: `SELECT ${OWNED_RUN_COLUMNS}, started_at FROM owned_runs WHERE run_id = ?`,
      values: [boundId(runId)],
    });
    return row && toOwnedRun(row);
  }

  async listOwnedRuns(
    owner: Principal,
    query: OwnedRunsQuery,
  ): Promise<{ runs: OwnedRun[]; nextCursor?: string }> {
    const issuer = boundId(owner.issuer);
    const subject = boundId(owner.subject);
    const task = optional(query.task, boundId);
    const { rows, nextCursor } = await this.queries.page<OwnedRunRow>(
      queryKey("owned_runs", [issuer, subject, task]),
      query,
      (after, limit) =>
        pageStatement({
          columns: OWNED_RUN_COLUMNS,
          from: "owned_runs",
          time: "started_at",
          where: [
            ["issuer = ?", issuer],
            ["subject = ?", subject],
            ["task = ?", task],
          ],
          after,
          limit,
        }),
      (row) => ({ at: iso(row.started_at), seq: Number(row.seq) }),
    );
    return { runs: rows.map(toOwnedRun), ...(nextCursor && { nextCursor }) };
  }

  async unfinishedRunIds(owner: Principal, limit: number): Promise<string[]> {
    const rows = await this.all<{ run_id: string }>({
      text: "SELECT run_id FROM owned_runs WHERE issuer = ? AND subject = ? AND finished_at IS NULL ORDER BY started_at DESC, seq DESC LIMIT ?",
      values: [boundId(owner.issuer), boundId(owner.subject), pageSize(limit)],
    });
    return rows.map((row) => row.run_id);
  }

  async markFinished(runIds: readonly string[]): Promise<void> {
    for (const runId of runIds) {
      await this.run({
        text: "UPDATE owned_runs SET finished_at = ? WHERE run_id = ? AND finished_at IS NULL",
        values: [new Date().toISOString(), boundId(runId)],
      });
    }
  }

  async appendAuditEvent(event: AuditEvent): Promise<void> {
    const e = valid(AuditEvent, event, "audit event");
    await this.run({
      text: `INSERT INTO audit_events (at, ${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      values: [
        instant(e.at, "at"),
        optional(e.issuer, boundId) ?? null,
        optional(e.subject, boundId) ?? null,
        optional(e.clientId, boundId) ?? null,
        optional(e.tool, boundId) ?? null,
        optional(e.task, boundId) ?? null,
        optional(e.runId, boundId) ?? null,
        e.decision,
        boundId(e.outcome),
        optional(e.reason, boundText) ?? null,
        optional(e.approvalId, boundId) ?? null,
        optional(e.requester, boundId) ?? null,
        e.traceId ?? null,
      ],
    });
  }

  async listAuditEvents(query: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor?: string }> {
    const subject = optional(query.subject, boundId);
    const task = optional(query.task, boundId);
    const runId = optional(query.runId, boundId);
    const since = optional(query.since, (v) => instant(v, "since"));
    const until = optional(query.until, (v) => instant(v, "until"));
    const { rows, nextCursor } = await this.queries.page<AuditEventRow>(
      queryKey("audit_events", [subject, task, runId, since, until]),
      query,
      (after, limit) =>
        pageStatement({
          columns: AUDIT_COLUMNS,
          from: "audit_events",
          time: "at",
          where: [
            ["subject = ?", subject],
            ["task = ?", task],
            ["run_id = ?", runId],
            ["at >= ?", since],
            ["at < ?", until],
          ],
          after,
          limit,
        }),
      (row) => ({ at: iso(row.at), seq: Number(row.seq) }),
    );
    return { events: rows.map(toAuditEvent), ...(nextCursor && { nextCursor }) };
  }

  private all<T>(statement: Statement): Promise<T[]> {
    return this.queries.all(statement);
  }

  private run(statement: Statement): Promise<void> {
    return this.queries.run(statement);
  }
}

function toOwnedRun(row: OwnedRunRow): OwnedRun {
  return {
    runId: row.run_id,
    task: row.task,
    startedBy: {
      issuer: row.issuer,
      subject: row.subject,
      ...(row.client_id !== null && { clientId: row.client_id }),
      at: iso(row.started_at),
      ...(row.trace_id !== null && { traceId: row.trace_id }),
    },
  };
}

/** Absent fields stay absent, never null. */
function toAuditEvent(row: AuditEventRow): AuditEvent {
  const fields = {
    at: iso(row.at),
    issuer: row.issuer,
    subject: row.subject,
    clientId: row.client_id,
    tool: row.tool,
    task: row.task,
    runId: row.run_id,
    decision: row.decision,
    outcome: row.outcome,
    reason: row.reason,
    approvalId: row.approval_id,
    requester: row.requester,
    traceId: row.trace_id,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as AuditEvent;
}
