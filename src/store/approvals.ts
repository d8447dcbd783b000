import type { ApprovalRecord, ApprovalStatus, Person } from "../approvals/approval.js";
import type { SqlValue } from "../db/sql.js";
import type { Principal } from "../workflows/run.js";
import { boundId, boundText, instant } from "./bounds.js";
import { queryKey } from "./cursor.js";
import { iso, pageStatement } from "./page-statement.js";
import { optional, type SqlQueries } from "./queries.js";
import type { ApprovalChange, ApprovalQuery, ApprovalStore, ApprovalSummary } from "./types.js";

interface Row {
  id: string;
  task: string;
  task_ref: string;
  input?: string;
  mode: ApprovalRecord["mode"];
  status: ApprovalStatus;
  requester_issuer: string;
  requester_subject: string;
  requester_client_id: string | null;
  created_at: string | Date;
  expires_at: string | Date;
  decided_at: string | Date | null;
  decider_issuer: string | null;
  decider_subject: string | null;
  decider_client_id: string | null;
  reason: string | null;
  run_id: string | null;
  seq?: number | string;
}

/** Everything but the input (up to 4 MB): what lists and changes read back. */
const SUMMARY =
  "id, task, task_ref, mode, status, requester_issuer, requester_subject, requester_client_id, created_at, expires_at, decided_at, decider_issuer, decider_subject, decider_client_id, reason, run_id";

/** Approval requests in SQL, the same statements on SQLite and PostgreSQL. */
export class SqlApprovals implements ApprovalStore {
  constructor(private readonly db: SqlQueries) {}

  async create(record: ApprovalRecord): Promise<void> {
    await this.db.run({
      text: `INSERT INTO approval_requests (id, task, task_ref, input, mode, status, requester_issuer, requester_subject, requester_client_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
      values: [
        boundId(record.id),
        boundId(record.task),
        boundId(record.taskRef),
        JSON.stringify(record.input),
        record.mode,
        boundId(record.requestedBy.issuer),
        boundId(record.requestedBy.subject),
        optional(record.requestedBy.clientId, boundId) ?? null,
        instant(record.createdAt, "createdAt"),
        instant(record.expiresAt, "expiresAt"),
      ],
    });
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    const [row] = await this.db.all<Row>({
      text: `SELECT ${SUMMARY}, input FROM approval_requests WHERE id = ?`,
      values: [boundId(id)],
    });
    return row && { ...toSummary(row), input: JSON.parse(row.input ?? "[]") };
  }

  async target(
    id: string,
  ): Promise<Pick<ApprovalRecord, "task" | "mode" | "requestedBy"> | undefined> {
    const [row] = await this.db.all<Row>({
      text: `SELECT ${SUMMARY} FROM approval_requests WHERE id = ?`,
      values: [boundId(id)],
    });
    if (!row) return undefined;
    const { task, mode, requestedBy } = toSummary(row);
    return { task, mode, requestedBy };
  }

  async pendingCount(requester: Principal, now: string): Promise<number> {
    const [row] = await this.db.all<{ n: number | string }>({
      text: "SELECT COUNT(*) AS n FROM approval_requests WHERE requester_issuer = ? AND requester_subject = ? AND status = 'pending' AND expires_at > ?",
      values: [boundId(requester.issuer), boundId(requester.subject), instant(now, "now")],
    });
    return Number(row?.n ?? 0);
  }

  async list(query: ApprovalQuery): Promise<{ approvals: ApprovalSummary[]; nextCursor?: string }> {
    const issuer = boundId(query.requester.issuer);
    const subject = boundId(query.requester.subject);
    const mine = "(requester_issuer = ? AND requester_subject = ?)";
    const theirs = "mode = 'approver' AND NOT (requester_issuer = ? AND requester_subject = ?)";
    let visible: readonly [string, readonly SqlValue[]];
    let decides = "";
    if (query.decides === "all") {
      visible = [`(${mine} OR (${theirs}))`, [issuer, subject, issuer, subject]];
      decides = "all";
    } else if (query.decides && query.decides.length > 0) {
      const tasks = query.decides.map(boundId);
      visible = [
        `(${mine} OR (${theirs} AND task IN (${tasks.map(() => "?").join(", ")})))`,
        [issuer, subject, issuer, subject, ...tasks],
      ];
      decides = JSON.stringify([...tasks].sort());
    } else {
      visible = [mine, [issuer, subject]];
    }
    const task = optional(query.task, boundId);
    const { rows, nextCursor } = await this.db.page<Row>(
      queryKey("approval_requests", [issuer, subject, decides, query.status, task]),
      query,
      (after, limit) =>
        pageStatement({
          columns: SUMMARY,
          from: "approval_requests",
          time: "created_at",
          where: [visible, ["status = ?", query.status], ["task = ?", task]],
          after,
          limit,
        }),
      (row) => ({ at: iso(row.created_at), seq: Number(row.seq) }),
    );
    return { approvals: rows.map(toSummary), ...(nextCursor && { nextCursor }) };
  }

  async decide(id: string, change: ApprovalChange): Promise<ApprovalRecord | undefined> {
    const [row] = await this.db.all<Row>({
      text: `UPDATE approval_requests SET status = ?, decided_at = ?, decider_issuer = ?, decider_subject = ?, decider_client_id = ?, reason = ? WHERE id = ? AND status = 'pending' AND expires_at > ? RETURNING ${SUMMARY}, input`,
      values: [
        change.status,
        instant(change.at, "at"),
        ...person(change.by),
        optional(change.reason, boundText) ?? null,
        boundId(id),
        instant(change.at, "at"),
      ],
    });
    return row && { ...toSummary(row), input: JSON.parse(row.input ?? "[]") };
  }

  async expireDue(now: string, limit: number): Promise<ApprovalSummary[]> {
    const rows = await this.db.all<Row>({
      text: `UPDATE approval_requests SET status = 'expired', decided_at = expires_at WHERE id IN (SELECT id FROM approval_requests WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?) AND status = 'pending' RETURNING ${SUMMARY}`,
      values: [instant(now, "now"), limit],
    });
    return rows.map(toSummary);
  }

  async claimStart(id: string, now: string, staleBefore: string): Promise<boolean> {
    const rows = await this.db.all<{ id: string }>({
      text: "UPDATE approval_requests SET start_claimed_at = ? WHERE id = ? AND status = 'approved' AND run_id IS NULL AND (start_claimed_at IS NULL OR start_claimed_at < ?) RETURNING id",
      values: [instant(now, "now"), boundId(id), instant(staleBefore, "staleBefore")],
    });
    return rows.length === 1;
  }

  async releaseStart(id: string): Promise<void> {
    await this.db.run({
      text: "UPDATE approval_requests SET start_claimed_at = NULL WHERE id = ? AND run_id IS NULL",
      values: [boundId(id)],
    });
  }

  async unstarted(staleBefore: string, decidedAfter: string, limit: number): Promise<string[]> {
    const rows = await this.db.all<{ id: string }>({
      text: "SELECT id FROM approval_requests WHERE status = 'approved' AND run_id IS NULL AND (start_claimed_at IS NULL OR start_claimed_at < ?) AND decided_at > ? ORDER BY decided_at LIMIT ?",
      values: [instant(staleBefore, "staleBefore"), instant(decidedAfter, "decidedAfter"), limit],
    });
    return rows.map((row) => row.id);
  }

  async recordRun(id: string, runId: string): Promise<void> {
    await this.db.run({
      text: "UPDATE approval_requests SET run_id = ? WHERE id = ? AND run_id IS NULL",
      values: [boundId(runId), boundId(id)],
    });
  }
}

const person = (who: Person | undefined): SqlValue[] => [
  who ? boundId(who.issuer) : null,
  who ? boundId(who.subject) : null,
  optional(who?.clientId, boundId) ?? null,
];

/** Absent fields stay absent, never null. */
function toSummary(row: Row): ApprovalSummary {
  const summary: ApprovalSummary = {
    id: row.id,
    status: row.status,
    task: row.task,
    taskRef: row.task_ref,
    mode: row.mode,
    requestedBy: {
      issuer: row.requester_issuer,
      subject: row.requester_subject,
      ...(row.requester_client_id !== null && { clientId: row.requester_client_id }),
    },
    createdAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
  };
  if (row.decider_issuer !== null && row.decider_subject !== null) {
    summary.decidedBy = {
      issuer: row.decider_issuer,
      subject: row.decider_subject,
      ...(row.decider_client_id !== null && { clientId: row.decider_client_id }),
    };
  }
  if (row.decided_at !== null) summary.decidedAt = iso(row.decided_at);
  if (row.reason !== null) summary.reason = row.reason;
  if (row.run_id !== null) summary.runId = row.run_id;
  return summary;
}
