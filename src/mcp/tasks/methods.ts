import {
  CancelTaskRequestV2Schema,
  GetTaskRequestV2Schema,
  hasTaskClientCapabilityV2,
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
import type { TaskRun } from "../../workflows/run.js";
import { accessFor, auditEventOf, failureOf } from "../caller.js";
import { describeRun } from "../format.js";
import { isWorkflowError, toolResult } from "../results.js";
import { type ServerParts, scopeOf } from "../scope.js";
import { worded } from "../wording.js";
import { detailedTaskOf } from "./task-of-run.js";

/** True when this request's client declared the Tasks extension (capabilities travel with every 2026-07-28 request). */
export function declaresTasks(ctx: ServerContext): boolean {
  // The SDK lifts the envelope out of `_meta`; the extension reads it from request params.
  return hasTaskClientCapabilityV2({ _meta: ctx.mcpReq.envelope ?? {} });
}

/** A run's result as the task's `result`: what start_task_run answers for it. */
const runResult = (run: TaskRun) => toolResult({ run }, describeRun(run));

// The SDK lifts `inputResponses` out of params (ctx.mcpReq.inputResponses), as for any
// multi round-trip request; there is nothing to deliver them to anyway.
const UPDATE_PARAMS = UpdateTaskRequestV2Schema.shape.params.omit({ inputResponses: true });

/**
 * The Tasks extension's methods (SEP-2663), over runs: `tasks/get` reads the
 * run, `tasks/cancel` cancels it, `tasks/update` has nothing to deliver (a
 * run never asks its client for input). Each is authorized by the HTTP gate
 * exactly as the tool it stands for, and sees only the runs the caller may
 * see: a task of someone else's run is "not found", like one that never was.
 */
export function registerTaskMethods(
  server: McpServer,
  parts: ServerParts,
  { handlers }: { handlers: boolean },
): void {
  server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION_ID_V2]: {} } });
  // Every answer declares the extension (server/discover lists it); only a
  // tasks/ request needs its handlers, and a server is built per request.
  if (!handlers) return;

  const runOfTask = async (ctx: ServerContext, taskId: string, action: "read" | "cancel") => {
    try {
      const { caller, budget } = scopeOf(parts, ctx);
      return await parts.backend.getRun(taskId, accessFor(caller, action), budget);
    } catch (error) {
      throw protocolError(error);
    }
  };

  server.server.setRequestHandler(
    "tasks/get",
    { params: GetTaskRequestV2Schema.shape.params },
    async ({ taskId }, ctx) => {
      requireDeclared(ctx);
      const run = await runOfTask(ctx, taskId, "read");
      return { ...detailedTaskOf(run, runResult(run)) };
    },
  );

  server.server.setRequestHandler(
    "tasks/update",
    { params: UPDATE_PARAMS },
    async ({ taskId }, ctx) => {
      requireDeclared(ctx);
      await runOfTask(ctx, taskId, "read");
      return {};
    },
  );

  server.server.setRequestHandler(
    "tasks/cancel",
    { params: CancelTaskRequestV2Schema.shape.params },
    async ({ taskId }, ctx) => {
      requireDeclared(ctx);
      const { caller } = scopeOf(parts, ctx);
      const event = () => ({ ...auditEventOf(caller, "tasks/cancel", "allowed"), runId: taskId });
      try {
        const { run, alreadyFinished } = await parts.backend.cancelRun(
          taskId,
          accessFor(caller, "cancel"),
        );
        await parts.auditor.record({
          ...event(),
          task: run.task,
          outcome: alreadyFinished ? "already_finished" : "canceled",
        });
      } catch (error) {
        await parts.auditor.record({ ...event(), ...failureOf(error) });
        throw protocolError(error);
      }
      return {};
    },
  );
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
