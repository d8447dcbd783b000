import type {
  CallToolResult,
  InputRequiredResult,
  ServerContext,
} from "@modelcontextprotocol/server";
import type { z } from "zod";
import { auditEvent, failureOf } from "../audit/events.js";
import { boundedText } from "../http/bounded.js";
import type { AuditEvent } from "../store/types.js";
import { answerSizeOf } from "../workflows/answer-size.js";
import { LimitReached } from "../workflows/errors.js";
import { toSummary } from "../workflows/run.js";
import { accessFor, startedByOf } from "./access.js";
import type { CatalogueEntry } from "./catalogue.js";
import { contextOf, type RequestContext, type ServerParts } from "./context.js";
import { isRecord } from "./messages.js";
import { progressOf } from "./progress.js";
import { isWorkflowError, toolError, toolResult, workflowToolError } from "./results.js";
import { describeStarted } from "./started.js";
import { declaresTasks } from "./tasks/capability.js";
import { createTaskResult } from "./tasks/task-of-run.js";
import type { AuditFacts, ToolContext, ToolDefinition, ToolResult } from "./tool.js";

/** Issues listed in an arguments error; the rest are counted. */
const MAX_ISSUES = 5;

/**
 * One tool call, after the request was authorized: our own validation of the
 * arguments (so a refusal carries a code), the tool (runTool), and a task
 * handle instead of the result when the tool does long-running work and the
 * client declared the Tasks extension.
 */
export function toolCallback(entry: CatalogueEntry, parts: ServerParts) {
  const { definition } = entry;
  const { confirmation } = parts;
  return async (
    args: unknown,
    ctx: ServerContext,
  ): Promise<CallToolResult | InputRequiredResult> => {
    const request = contextOf(parts, ctx);
    const answer = (output: ToolResult<z.ZodRawShape>) => {
      const result = toolResult(output.structuredContent, output.text);
      return definition.runOf && declaresTasks(ctx)
        ? createTaskResult(definition.runOf(output.structuredContent), result)
        : result;
    };
    if (definition.runOf && confirmation) {
      // A start retried after its person was sent to the approval page: answered from the record.
      try {
        const resumed = await confirmation.resume(ctx, request);
        if (resumed) return answer({ structuredContent: resumed, text: describeStarted(resumed) });
      } catch (error) {
        if (isWorkflowError(error)) return workflowToolError(error);
        throw error;
      }
    }
    const parsed = entry.input.safeParse(args ?? {});
    if (!parsed.success) {
      if (definition.audit) {
        await audit(request, definition.name, {
          ...namedIn(args),
          outcome: "failed",
          reason: "ERR_INVALID_ARGUMENTS",
        });
      }
      return toolError(`Invalid arguments for ${definition.name}: ${issuesOf(parsed.error)}`, {
        code: "ERR_INVALID_ARGUMENTS",
        retryable: false,
      });
    }
    const ran = await runTool(definition, parsed.data, request, ctx, definition.name);
    if (!ran.ok) return ran.error;
    const started = definition.runOf?.(ran.output.structuredContent);
    const ask = started && "mode" in started ? await confirmation?.ask(started, ctx) : undefined;
    return ask ?? answer(ran.output);
  };
}

/**
 * A tool's handler on validated input, and its audit under `auditAs` (the
 * tool's name, or the method standing for it: tasks/cancel is
 * cancel_task_run's handler and audit, under its own name). A thrown error
 * becomes the tool error a client can act on; a bug is logged, not shown.
 */
export async function runTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  definition: ToolDefinition<I, O>,
  input: z.infer<z.ZodObject<I>>,
  request: RequestContext,
  ctx: ServerContext,
  auditAs: string,
): Promise<
  { ok: true; output: ToolResult<O> } | { ok: false; error: CallToolResult; cause: unknown }
> {
  const context = toolContext(request, ctx, definition);
  let output: ToolResult<O>;
  try {
    output = await definition.handler(input, context);
  } catch (error) {
    const facts = definition.audit?.(input);
    if (facts) await audit(request, auditAs, { ...facts, ...failureOf(error) });
    if (isWorkflowError(error)) return { ok: false, error: workflowToolError(error), cause: error };
    request.logger.error({ err: error, tool: definition.name }, "tool failed");
    const unexpected = toolError(
      `${definition.name} failed unexpectedly; the server logged the details`,
      { code: "ERR_INTERNAL", retryable: false },
    );
    return { ok: false, error: unexpected, cause: error };
  }
  const facts = definition.audit?.(input, output.structuredContent);
  if (facts) await audit(request, auditAs, facts);
  return { ok: true, output };
}

function toolContext(
  request: RequestContext,
  ctx: ServerContext,
  { name: toolName, runOf }: Pick<ToolDefinition, "name" | "runOf">,
): ToolContext {
  const startsRuns = runOf !== undefined;
  const { caller, backend, budget } = request;
  const wait = (id: string, seconds: number, weighed: boolean) =>
    backend.waitForRun(id, {
      timeoutMs: seconds * 1000,
      signal: ctx.mcpReq.signal,
      onChange: progressOf(ctx),
      access: accessFor(caller, "read"),
      ...(weighed ? { budget } : {}),
    });
  const actor = request.traceId ? { ...caller, traceId: request.traceId } : caller;
  return {
    caller: actor,
    backend,
    audit: request.audit,
    catalogue: request.catalogue,
    signal: ctx.mcpReq.signal,
    budget,
    access: (action) => accessFor(caller, action),
    startedBy: () => startedByOf(caller, new Date(), request.traceId),
    approvals: request.approvals,
    async start(task, input) {
      if (request.approvals?.modeOf(task) !== undefined) {
        return { approval: await request.approvals.request(actor, task, input, toolName) };
      }
      return {
        run: await backend.startRun(task, input, startedByOf(caller, new Date(), request.traceId)),
      };
    },
    // A call that started a run must not be refused afterwards (the client would start it
    // again): when its finished run does not fit the answer budget, it is answered without
    // its input and results, which get_task_run reads.
    waitForRun: startsRuns
      ? async (id, seconds) => {
          const run = await wait(id, seconds, false);
          try {
            budget.admit(answerSizeOf(run));
            return run;
          } catch (error) {
            if (error instanceof LimitReached) return toSummary(run);
            throw error;
          }
        }
      : (id, seconds) => wait(id, seconds, true),
  };
}

function audit(
  request: RequestContext,
  tool: string,
  facts: AuditFacts & Partial<Pick<AuditEvent, "reason" | "decision">>,
): Promise<void> {
  return request.auditor.record({
    ...auditEvent(request.caller, tool, "allowed"),
    ...facts,
    ...(request.traceId ? { traceId: request.traceId } : {}),
  });
}

/**
 * What an audit event may say about arguments that failed validation: the
 * task and the run they name, when those are strings (bounded) — never the
 * task's input, which may hold secrets.
 */
function namedIn(args: unknown): Pick<AuditFacts, "task" | "runId"> {
  const record = isRecord(args) ? args : {};
  return {
    ...(typeof record.task === "string" ? { task: boundedText(record.task) } : {}),
    ...(typeof record.id === "string" ? { runId: boundedText(record.id) } : {}),
  };
}

function issuesOf(error: z.ZodError): string {
  const listed = error.issues
    .slice(0, MAX_ISSUES)
    .map(
      (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "arguments"}: ${issue.message}`,
    );
  const more = error.issues.length - listed.length;
  return `${listed.join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
}
