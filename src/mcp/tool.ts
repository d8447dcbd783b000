import type { ToolAnnotations } from "@modelcontextprotocol/server";
import type { z } from "zod";
import type { Approval } from "../approvals/approval.js";
import type { Approvals } from "../approvals/service.js";
import type { Actor } from "../auth/caller.js";
import type { FixedScope } from "../auth/scopes.js";
import type { AuditTrail } from "../store/types.js";
import type { ReadBudget, RunAccess, WorkflowBackend } from "../workflows/backend.js";
import type { StartedBy, TaskInput, TaskRun } from "../workflows/run.js";

export type { Caller } from "../auth/caller.js";

/**
 * What a call needs, declared by the tool and evaluated by the policy
 * (src/auth/policy.ts) before anything runs.
 */
export type ToolRequirement =
  /** Every listed scope, each satisfied by the scope or one implying it; empty: any valid token. */
  | { scopes: readonly FixedScope[] }
  /** `workflows:run:<task>` for the task the named argument refers to (or `workflows:run` when it names none). */
  | { taskScopeOf: string }
  /**
   * `workflows:approve:<task>` for the task of the approval request the named
   * argument refers to (looked up before anything runs); nothing beyond a
   * valid token for a request its requester confirms (`self` mode), or for
   * an id that names no request (the tool answers so).
   */
  | { approvalOf: string };

/** What the server records about a state-changing call (src/audit). */
export interface AuditFacts {
  task?: string;
  runId?: string;
  approvalId?: string;
  outcome: string;
}

/** What a tool may use. Tools never see HTTP, tokens or the MCP transport. */
export interface ToolContext {
  /** Who calls, and (telemetry on) the call's trace id, which what it records carries. */
  caller: Actor;
  backend: WorkflowBackend;
  audit: AuditTrail;
  /** Every tool and what it requires (for whoami). */
  catalogue: readonly { name: string; requires: ToolRequirement }[];
  /** Aborted when the client goes away or cancels the request. */
  signal: AbortSignal;
  /**
   * The memory this call's answer may take: pass it to every backend read
   * that answers a run with its input and results (the backend weighs the run
   * and refuses with LimitReached when answers in flight hold too much).
   */
  budget: ReadBudget;
  /** Which runs the caller may see for an action: all (an `:all` scope) or its own. */
  access(action: "read" | "cancel"): RunAccess;
  /** The caller as the owner recorded on a run it starts. */
  startedBy(): StartedBy;
  /**
   * Starts a run of `task` as the caller — or, when the task needs a
   * person's approval (APPROVAL_TASKS), records an approval request instead
   * and starts nothing. Tools that start runs start them through this.
   */
  start(task: string, input: TaskInput): Promise<{ run: TaskRun } | { approval: Approval }>;
  /** Approval requests (list, decide), where the server has any task needing approval. */
  approvals: Approvals | undefined;
  /**
   * Waits up to `seconds` for a run the caller may read to finish, reporting
   * each change as an MCP progress notification when the client asked for progress.
   */
  waitForRun(id: string, seconds: number): Promise<TaskRun>;
}

export interface ToolResult<O extends z.ZodRawShape> {
  structuredContent: z.infer<z.ZodObject<O>>;
  /** A short summary for clients that show text. */
  text: string;
}

/** What the server says of itself where a tool's description needs it, worded for clients. */
export interface BackendNotes {
  /** How it lists runs, beyond what every backend does (WorkflowBackend.listingNote). */
  listing?: string;
  /** Which tasks need a person's approval before they run (APPROVAL_TASKS). */
  approvals?: string;
}

/** One MCP tool: a small declarative unit the server wires. */
export interface ToolDefinition<
  I extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodRawShape = z.ZodRawShape,
> {
  name: string;
  title: string;
  description: string;
  /** What the serving backend adds to the description, read when the catalogue is built. */
  noteFrom?(backend: BackendNotes): string | undefined;
  requires: ToolRequirement;
  /** Served only where the server has this feature: `approvals`, where some task needs a person's approval. */
  feature?: "approvals";
  annotations: Required<
    Pick<ToolAnnotations, "readOnlyHint" | "destructiveHint" | "idempotentHint" | "openWorldHint">
  >;
  input: I;
  output: O;
  handler(input: z.infer<z.ZodObject<I>>, context: ToolContext): Promise<ToolResult<O>>;
  /**
   * A tool that starts a run names it here (or the approval request it
   * recorded instead). Each call counts against the run-start limit, and when
   * the client declared the Tasks extension the call answers with a task
   * handle for this run (or request) instead of the result.
   */
  runOf?(output: z.infer<z.ZodObject<O>>): TaskRun | Approval;
  /**
   * State-changing: every call is written to the audit trail with these
   * facts — except where they are undefined: the change was an approval
   * request's, which the approvals service recorded as it made it.
   */
  audit?(input: z.infer<z.ZodObject<I>>, output?: z.infer<z.ZodObject<O>>): AuditFacts | undefined;
}

/** The annotations of a tool that only reads from the workflow engine. */
export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
} as const;

export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  definition: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return definition;
}
