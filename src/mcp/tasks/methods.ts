import {
  CancelTaskRequestV2Schema,
  GetTaskRequestV2Schema,
  TASKS_EXTENSION_ID_V2,
  UpdateTaskRequestV2Schema,
} from "@modelcontextprotocol/ext-tasks/core/v2";
import {
  type McpServer,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { type Approval, isApprovalId } from "../../approvals/approval.js";
import type { TaskRun } from "../../workflows/run.js";
import { accessFor } from "../access.js";
import { runTool } from "../call.js";
import type { Catalogue } from "../catalogue.js";
import { contextOf, type ServerParts } from "../context.js";
import { describeApproval, describeRun } from "../format.js";
import { isWorkflowError, toolResult } from "../results.js";
import { worded } from "../wording.js";
import { declaresTasks } from "./capability.js";
import { detailedTaskOf, detailedTaskOfApproval } from "./task-of-run.js";

/** A run's result as the task's `result`: what start_task_run answers for it. */
const runResult = (run: TaskRun, approval?: Approval) =>
  toolResult({ run, ...(approval ? { approval } : {}) }, describeRun(run));

// The SDK lifts `inputResponses` out of params (ctx.mcpReq.inputResponses), as for any
// multi round-trip request; there is nothing to deliver them to anyway.
const UPDATE_PARAMS = UpdateTaskRequestV2Schema.shape.params.omit({ inputResponses: true });

/**
 * The Tasks extension's methods (SEP-2663), over runs: `tasks/get` reads the
 * run, `tasks/cancel` is `cancel_task_run` (its handler, its audit and
 * outcomes, under its own name), `tasks/update` has nothing to deliver (a run
 * never asks its client for input). Each is authorized exactly as the tool
 * it stands for, and sees only the runs the caller may see: a task of
 * someone else's run is "not found", like one that never was. Built once;
 * `register` adds them to a 2026-07-28 server.
 */
export function taskMethodHandlers(parts: ServerParts, catalogue: Catalogue) {
  const cancelTool = catalogue.byName.get("cancel_task_run");
  if (!cancelTool) throw new Error("tasks/cancel stands for cancel_task_run, which is not served");

  const runOfTask = async (ctx: ServerContext, taskId: string) => {
    try {
      // The call's backend (telemetry on: its read is a span under the message's).
      const { caller, budget, backend } = contextOf(parts, ctx);
      return await backend.getRun(taskId, accessFor(caller, "read"), budget);
    } catch (error) {
      throw protocolError(error);
    }
  };

  /**
   * A task that is an approval request (its id `apr-…`): working until
   * decided, then the run an approval started — under the request's id, the
   * one the client holds — or completed saying why nothing ran.
   */
  const taskOfApproval = async (ctx: ServerContext, taskId: string) => {
    const { approvals } = parts;
    if (!approvals) return undefined;
    let approval: Approval;
    try {
      approval = approvals.view(await approvals.get(taskId, contextOf(parts, ctx).caller));
    } catch (error) {
      throw protocolError(error);
    }
    if (!approval.runId) {
      return detailedTaskOfApproval(approval, toolResult({ approval }, describeApproval(approval)));
    }
    const run = await runOfTask(ctx, approval.runId);
    return {
      ...detailedTaskOf(run, runResult(run, approval)),
      taskId: approval.id,
      createdAt: approval.createdAt,
    };
  };

  return {
    register(server: McpServer): void {
      server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION_ID_V2]: {} } });
      server.server.setRequestHandler(
        "tasks/get",
        { params: GetTaskRequestV2Schema.shape.params },
        async ({ taskId }, ctx) => {
          requireDeclared(ctx);
          if (isApprovalId(taskId)) {
            const task = await taskOfApproval(ctx, taskId);
            if (task) return { ...task };
          }
          const run = await runOfTask(ctx, taskId);
          return { ...detailedTaskOf(run, runResult(run)) };
        },
      );
      server.server.setRequestHandler(
        "tasks/update",
        { params: UPDATE_PARAMS },
        async ({ taskId }, ctx) => {
          requireDeclared(ctx);
          if (!(isApprovalId(taskId) && (await taskOfApproval(ctx, taskId)))) {
            await runOfTask(ctx, taskId);
          }
          return {};
        },
      );
      server.server.setRequestHandler(
        "tasks/cancel",
        { params: CancelTaskRequestV2Schema.shape.params },
        async ({ taskId }, ctx) => {
          requireDeclared(ctx);
          const ran = await runTool(
            cancelTool,
            { id: taskId },
            contextOf(parts, ctx),
            ctx,
            "tasks/cancel",
          );
          if (!ran.ok) throw protocolError(ran.cause);
          return {};
        },
      );
    },
  };
}

function requireDeclared(ctx: ServerContext): void {
  if (!declaresTasks(ctx)) {
    throw new MissingRequiredClientCapabilityError({
      requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID_V2]: {} } },
    });
  }
}

/** Unknown or invisible task: Invalid params, as the extension requires; anything else an internal error. */
function protocolError(error: unknown): ProtocolError {
  if (isWorkflowError(error)) {
    const code = error.retryable
      ? ProtocolErrorCode.InternalError
      : ProtocolErrorCode.InvalidParams;
    return new ProtocolError(code, `Failed to retrieve task: ${worded(error.parts)}`, {
      code: error.code,
      retryable: error.retryable,
      ...(error.retryAfterSeconds === undefined
        ? {}
        : { retryAfterSeconds: error.retryAfterSeconds }),
    });
  }
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    "Failed to retrieve task: internal error",
  );
}
