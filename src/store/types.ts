import { z } from "zod";
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
      "What happened: started, canceled, already_finished, failed, no_token, invalid_token, insufficient_scope, …",
    ),
  reason: z.string().optional().describe("A short explanation: an error code, the missing scopes"),
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

export interface Store extends RunOwnership, AuditTrail {
  readonly kind: "sqlite" | "postgres";
  /** One line for the banner, without credentials. */
  describe(): string;
  close(): Promise<void>;
}
