import { z } from "zod";
import type { ApprovalRecord, ApprovalStatus, Person } from "../approvals/approval.js";
import { type Principal, StartedBy, TraceId } from "../workflows/run.js";

/**
 * What every instance must agree on, so it cannot live in one instance's
 * memory: who started which run (for backends whose runs carry no owner,
 * i.e. Render) and the audit trail. PostgreSQL when DATABASE_URL is set, the
 * embedded SQLite file otherwise; both implement this interface and pass the
 * same tests.
 */

/** A run this server started, and who started it. */
export const OwnedRun = z.object({
  runId: z.string(),
  /** The task's name as the backend reports it (locally `square`, on Render `my-workflow/square`). */
  task: z.string(),
  startedBy: StartedBy,
});
export type OwnedRun = z.infer<typeof OwnedRun>;

export interface OwnedRunsQuery {
  task?: string;
  limit: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
}

export interface RunOwnership {
  /** Records who started a run. Recording the same run id again changes nothing. */
  recordRun(run: OwnedRun): Promise<void>;
  /** The record for a run this server started, or undefined. */
  ownedRun(runId: string): Promise<OwnedRun | undefined>;
  /** The runs one principal started, newest first, a page at a time. */
  listOwnedRuns(
    owner: Principal,
    query: OwnedRunsQuery,
  ): Promise<{ runs: OwnedRun[]; nextCursor?: string }>;
  /** Ids of runs one principal started that were not yet seen finished, newest first, at most `limit`. */
  unfinishedRunIds(owner: Principal, limit: number): Promise<string[]>;
  /** Records that these runs were seen finished: they no longer count as unfinished. */
  markFinished(runIds: readonly string[]): Promise<void>;
}

/**
 * One authorization decision or state change. Stable field names: log
 * pipelines and `list_audit_events` read them. Never a token, an
 * Authorization header or a task's input.
 */
export const AuditEvent = z.object({
  at: z.string().describe("When (ISO 8601)"),
  issuer: z.string().optional(),
  subject: z.string().optional().describe("The caller's `sub`; absent when no token was verified"),
  clientId: z.string().optional(),
  tool: z
    .string()
    .optional()
    .describe("The tool called, or the JSON-RPC method (e.g. tasks/cancel)"),
  task: z.string().optional(),
  runId: z.string().optional(),
  decision: z.enum(["allowed", "refused"]),
  outcome: z
    .string()
    .describe(
      "What happened: started, canceled, approval_requested, approval_approved, approval_denied, approval_expired, approval_canceled, already_finished, failed, not_found, no_token, invalid_token, insufficient_scope, …",
    ),
  reason: z.string().optional().describe("A short explanation: an error code, the missing scopes"),
  approvalId: z.string().optional().describe("The approval request the event is about (apr-…)"),
  requester: z
    .string()
    .optional()
    .describe("Who asked for the approval (their `sub`), where the actor is someone else"),
  traceId: TraceId.optional().describe(
    "The OpenTelemetry trace id of the request, when the server exports traces",
  ),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

export interface AuditQuery {
  subject?: string;
  task?: string;
  runId?: string;
  /** ISO 8601, inclusive. */
  since?: string;
  /** ISO 8601, exclusive. */
  until?: string;
  limit: number;
  cursor?: string;
}

export interface AuditTrail {
  appendAuditEvent(event: AuditEvent): Promise<void>;
  /** Newest first. */
  listAuditEvents(query: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor?: string }>;
}

/** Which approval requests a listing shows, newest first. */
export interface ApprovalQuery {
  /** Its own requests, whatever their mode. */
  requester: Principal;
  /** Besides, the approver-mode requests of others it may decide: of every task, or of these. */
  decides?: "all" | readonly string[];
  status?: ApprovalStatus;
  task?: string;
  limit: number;
  cursor?: string;
}

/** A stored approval request without its input (what lists carry). */
export type ApprovalSummary = Omit<ApprovalRecord, "input">;

/** What an approval decision writes. */
export interface ApprovalChange {
  status: Exclude<ApprovalStatus, "pending">;
  by?: Person;
  at: string;
  reason?: string;
}

/**
 * Approval requests, shared by every instance. Every change of status is
 * one conditional UPDATE of a pending row, so concurrent decisions (two
 * approvers, two instances, the expiry sweep) produce exactly one.
 */
export interface ApprovalStore {
  create(record: ApprovalRecord): Promise<void>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  /** What a request is about and who asked (what deciding it needs), without reading its input. */
  target(id: string): Promise<Pick<ApprovalRecord, "task" | "mode" | "requestedBy"> | undefined>;
  /** Requests of `requester` still pending and not yet expired at `now`. */
  pendingCount(requester: Principal, now: string): Promise<number>;
  list(query: ApprovalQuery): Promise<{ approvals: ApprovalSummary[]; nextCursor?: string }>;
  /** Ends a request that is pending and not expired at `change.at`: the record after, or undefined when it was not (decided first elsewhere, or expired). */
  decide(id: string, change: ApprovalChange): Promise<ApprovalRecord | undefined>;
  /** Expires up to `limit` pending requests past their time: the ones this call expired. */
  expireDue(now: string, limit: number): Promise<ApprovalSummary[]>;
  /** Claims starting the run of an approved request with none yet: true for one claimant at a time (a claim older than `staleBefore` may be taken over). */
  claimStart(id: string, now: string, staleBefore: string): Promise<boolean>;
  recordRun(id: string, runId: string): Promise<void>;
  /** Gives up a claim whose start failed, so the next attempt need not wait for it to go stale. */
  releaseStart(id: string): Promise<void>;
  /** Approved after `decidedAfter`, their run not started, and their start claim (if any) older than `staleBefore`. */
  unstarted(staleBefore: string, decidedAfter: string, limit: number): Promise<string[]>;
}

export interface Store extends RunOwnership, AuditTrail {
  readonly approvals: ApprovalStore;
  readonly kind: "sqlite" | "postgres";
  /** One line for the banner, without credentials. */
  describe(): string;
  close(): Promise<void>;
}
