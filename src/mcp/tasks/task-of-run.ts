import type {
  CompletedTaskV2,
  CreateTaskResultV2,
  DetailedTaskV2,
  TaskStatusV2,
  TaskV2,
} from "@modelcontextprotocol/ext-tasks/core/v2";
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { Approval } from "../../approvals/approval.js";
import { isTerminal, type TaskRun, type TaskRunStatus } from "../../workflows/run.js";
import { describeApproval, describeRun } from "../format.js";

/** How often a client should poll a task that is still working. */
const TASK_POLL_INTERVAL_MS = 2_000;

/**
 * A run as an MCP task. The run is the task's only state — the task id is the
 * run id — so a task survives restarts and is answered by any instance. A run
 * that failed is still a `completed` task: the tool call completed, and its
 * result says the run failed (`failed` is reserved for JSON-RPC errors).
 */
const STATUS: Record<TaskRunStatus, TaskStatusV2> = {
  pending: "working",
  running: "working",
  paused: "working",
  succeeded: "completed",
  failed: "completed",
  canceled: "cancelled",
};

function taskOf(run: TaskRun, now = new Date()): TaskV2 {
  const created = run.createdAt ?? run.startedAt ?? now.toISOString();
  return {
    taskId: run.id,
    status: STATUS[run.status],
    statusMessage: describeRun(run),
    createdAt: created,
    lastUpdatedAt: run.completedAt ?? run.startedAt ?? created,
    // Runs are kept as long as the backend keeps them.
    ttlMs: null,
    ...(isTerminal(run.status) ? {} : { pollIntervalMs: TASK_POLL_INTERVAL_MS }),
  };
}

/** What `tasks/get` answers: the task, with the tool result once it has completed. */
export function detailedTaskOf(run: TaskRun, result: CallToolResult): DetailedTaskV2 {
  const task = taskOf(run);
  switch (task.status) {
    case "completed":
      // The tool's result, as a 2026-07-28 result: every result names its type.
      return {
        ...task,
        status: "completed",
        result: { resultType: "complete", ...result } as CompletedTaskV2["result"],
      };
    case "cancelled":
      return { ...task, status: "cancelled" };
    default:
      return { ...task, status: "working" };
  }
}

/**
 * A `tools/call` answered with a task handle. The tool's own result rides
 * along (`content`, `structuredContent`): the SDK checks a tool's output
 * against its schema, and a client that ignores the handle still sees the run.
 */
export function createTaskResult(
  subject: TaskRun | Approval,
  result: CallToolResult,
): CreateTaskResultV2 & CallToolResult {
  const task = isRun(subject) ? taskOf(subject) : taskOfApproval(subject);
  return { ...result, ...task, resultType: "task" } as CreateTaskResultV2 & CallToolResult;
}

const isRun = (subject: TaskRun | Approval): subject is TaskRun => "attempts" in subject;

/**
 * An approval request as a task (its id is the request's): working while it
 * waits for a decision — its status message says who decides and until when
 * — and while an approved run is starting; a request that ended without a
 * run (denied, expired, withdrawn) is a completed task whose result says so.
 * Once its run exists, the task follows the run (tasks/get).
 */
export function taskOfApproval(approval: Approval, now = new Date()): TaskV2 {
  const done =
    approval.status === "denied" || approval.status === "expired" || approval.status === "canceled";
  return {
    taskId: approval.id,
    status: done ? "completed" : "working",
    statusMessage: describeApproval(approval),
    createdAt: approval.createdAt,
    lastUpdatedAt: approval.decidedAt ?? approval.createdAt ?? now.toISOString(),
    ttlMs: null,
    ...(done ? {} : { pollIntervalMs: TASK_POLL_INTERVAL_MS }),
  };
}

/** What `tasks/get` answers for an approval request that has no run: working, or completed saying why. */
export function detailedTaskOfApproval(approval: Approval, result: CallToolResult): DetailedTaskV2 {
  const task = taskOfApproval(approval);
  return task.status === "completed"
    ? {
        ...task,
        status: "completed",
        result: { resultType: "complete", ...result } as CompletedTaskV2["result"],
      }
    : { ...task, status: "working" };
}
