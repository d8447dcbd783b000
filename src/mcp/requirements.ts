import type { ApprovalMode } from "../approvals/policy.js";
import { approveScopeFor, type Requirement, runScopeFor } from "../auth/policy.js";
import { APPROVE_SCOPE_PREFIX, scopesAllowing, TASK_SCOPE_PREFIX } from "../auth/scopes.js";
import { boundedText } from "../http/bounded.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { isRecord, type RpcRequest, toolCallOf } from "./messages.js";
import type { ToolDefinition, ToolRequirement } from "./tool.js";

/** A task reference longer than this names no task (and is refused by the tool's input schema). */
const MAX_TASK_REFERENCE = 512;

type TaskNames = Pick<WorkflowBackend, "taskNameOf">;

/** What deciding an approval request is about: its task, and who decides it. */
export interface ApprovalTarget {
  task: string;
  mode: ApprovalMode;
}

/**
 * The approval requests a request's calls name, read from the store before
 * authorization (the scope a decision needs depends on the request's task).
 * A request not in it is unknown: deciding it needs only a valid token, and
 * the tool answers that there is no such request.
 */
export type ApprovalTargets = ReadonlyMap<string, ApprovalTarget>;

/** The approval id a call of a tool names, if its requirement depends on one. */
export function approvalIdOf(requires: ToolRequirement, args: unknown): string | undefined {
  if (!("approvalOf" in requires)) return undefined;
  const id = isRecord(args) ? args[requires.approvalOf] : undefined;
  return typeof id === "string" && id.length <= MAX_APPROVAL_ID ? id : undefined;
}

/** An approval id longer than this names no request (and is refused by the tool's input schema). */
const MAX_APPROVAL_ID = 256;

/** The scopes one call of a tool needs, given its (unvalidated) arguments. */
export function requirementOf(
  requires: ToolRequirement,
  args: unknown,
  backend: TaskNames,
  approvals: ApprovalTargets = NO_APPROVALS,
): Requirement {
  if ("scopes" in requires) return requires.scopes;
  if ("approvalOf" in requires) {
    const id = approvalIdOf(requires, args);
    const target = id === undefined ? undefined : approvals.get(id);
    // A self-mode request is confirmed by its requester on the page, whatever they hold.
    return target && target.mode === "approver" ? [approveScopeFor(target.task)] : [];
  }
  const reference = isRecord(args) ? args[requires.taskScopeOf] : undefined;
  const named =
    typeof reference === "string" && reference.length <= MAX_TASK_REFERENCE
      ? backend.taskNameOf(reference)
      : undefined;
  return [runScopeFor(named)];
}

const NO_APPROVALS: ApprovalTargets = new Map();

/** How a tool's requirement reads in its description and `_meta`. */
export function requirementLabel(requires: ToolRequirement): string[] {
  if ("scopes" in requires) return [...requires.scopes];
  return [`${"approvalOf" in requires ? APPROVE_SCOPE_PREFIX : TASK_SCOPE_PREFIX}<task>`];
}

export function describeRequirement(requires: ToolRequirement): string {
  if ("scopes" in requires) {
    return requires.scopes.length > 0
      ? `Required scopes: ${requires.scopes.join(", ")} (or a scope implying them).`
      : "Required scopes: none beyond a valid token.";
  }
  if ("approvalOf" in requires) {
    const [perTask, anyTask, ...wider] = scopesAllowing(`${APPROVE_SCOPE_PREFIX}<task>`);
    return `Required scope: ${perTask} for the task of the request named by \`${requires.approvalOf}\`, or ${anyTask} for any task (or ${wider.join(", ")}).`;
  }
  const [perTask, anyTask, ...wider] = scopesAllowing(`${TASK_SCOPE_PREFIX}<task>`);
  return `Required scope: ${perTask} for the task named by \`${requires.taskScopeOf}\`, or ${anyTask} for any task (or ${wider.join(", ")}).`;
}

/**
 * JSON-RPC methods of the Tasks extension that stand for a tool: each is
 * authorized exactly as that tool is (reading a task is reading its run,
 * cancelling a task is cancelling its run).
 */
const METHODS_STANDING_FOR_TOOLS: Readonly<Record<string, string>> = {
  "tasks/get": "get_task_run",
  "tasks/update": "get_task_run",
  "tasks/cancel": "cancel_task_run",
};

/** What one message needs before it may run. */
export interface Demand {
  /** What is called: the tool's name, or the method for any other request. */
  target: string;
  requirement: Requirement;
  /** The task a call names in its `task` argument (bounded, for the audit of a refusal). */
  task?: string;
}

/**
 * What one JSON-RPC request needs before it may run: a `tools/call` its
 * tool's requirement (with its arguments), a task method its tool's; any
 * other request (lists, discovery, unknown tools — which run nothing) only a
 * valid token.
 */
export function demandOf(
  message: RpcRequest,
  tools: ReadonlyMap<string, Pick<ToolDefinition, "requires">>,
  backend: TaskNames,
  approvals: ApprovalTargets = NO_APPROVALS,
): Demand {
  const call = toolCallOf(message);
  if (call) {
    const tool = tools.get(call.name);
    const approvalId = tool && approvalIdOf(tool.requires, call.args);
    const task =
      (isRecord(call.args) ? call.args.task : undefined) ??
      (approvalId === undefined ? undefined : approvals.get(approvalId)?.task);
    return {
      target: call.name,
      requirement: tool ? requirementOf(tool.requires, call.args, backend, approvals) : [],
      ...(typeof task === "string" ? { task: boundedText(task) } : {}),
    };
  }
  const standsFor = Object.hasOwn(METHODS_STANDING_FOR_TOOLS, message.method)
    ? tools.get(METHODS_STANDING_FOR_TOOLS[message.method] as string)
    : undefined;
  return {
    target: message.method,
    requirement: standsFor ? requirementOf(standsFor.requires, undefined, backend) : [],
  };
}
