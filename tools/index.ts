import type { ToolDefinition } from "../src/mcp/tool.js";
import cancelTaskRun from "./cancel-task-run.js";
import decideApprovalRequest from "./decide-approval-request.js";
import getTaskRun from "./get-task-run.js";
import getTaskRunLogs from "./get-task-run-logs.js";
import listApprovalRequests from "./list-approval-requests.js";
import listAuditEvents from "./list-audit-events.js";
import listTaskRuns from "./list-task-runs.js";
import listTasks from "./list-tasks.js";
import rerunTaskRun from "./rerun-task-run.js";
import startTaskRun from "./start-task-run.js";
import whoami from "./whoami.js";

/**
 * Every tool the server exposes, in this order in tools/list (a tool with a
 * `feature` only where the server has it). Add a file beside this one and
 * list it here.
 */
export const tools: readonly ToolDefinition[] = [
  whoami,
  listTasks,
  startTaskRun,
  rerunTaskRun,
  getTaskRun,
  listTaskRuns,
  cancelTaskRun,
  getTaskRunLogs,
  listApprovalRequests,
  decideApprovalRequest,
  listAuditEvents,
];
