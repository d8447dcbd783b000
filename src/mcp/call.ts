import type { CallToolResult, ServerContext } from "@modelcontextprotocol/server";
import type { z } from "zod";
import { boundedText } from "../http/bounded.js";
import type { AuditEvent } from "../store/types.js";
import { answerSizeOf } from "../workflows/answer-size.js";
import { LimitReached } from "../workflows/errors.js";
import { toSummary } from "../workflows/run.js";
import { accessFor, auditEventOf, failureOf, startedByOf } from "./caller.js";
import type { CatalogueEntry } from "./catalogue.js";
import { isRecord } from "./messages.js";
import { progressOf } from "./progress.js";
import { isWorkflowError, toolError, toolResult, workflowToolError } from "./results.js";
import { type RequestScope, type ServerParts, scopeOf } from "./scope.js";
import { declaresTasks } from "./tasks/methods.js";
import { createTaskResult } from "./tasks/task-of-run.js";
import type { AuditFacts, ToolContext } from "./tool.js";

/** Issues listed in an arguments error; the rest are counted. */
const MAX_ISSUES = 5;

/**
 * One tool call, after the gate has authorized it: our own validation of the
 * arguments (so a refusal carries a code), the tool, the audit of a state
 * change, and a task handle instead of the result when the tool does
 * long-running work and the client declared the Tasks extension.
 */
export function toolCallback(entry: CatalogueEntry, parts: ServerParts) {
  const { definition } = entry;
  return async (args: unknown, ctx: ServerContext): Promise<CallToolResult> => {
    const scope = scopeOf(parts, ctx);
    const parsed = entry.input.safeParse(args ?? {});
    if (!parsed.success) {
      if (definition.audit) {
        await audit(scope, definition.name, {
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
    const input = parsed.data;
    const context = toolContext(scope, ctx, definition.runOf !== undefined);
    let output: Awaited<ReturnType<typeof definition.handler>>;
    try {
      output = await definition.handler(input, context);
    } catch (error) {
      const result = isWorkflowError(error) ? workflowToolError(error) : unexpected(error);
      if (definition.audit) {
        await audit(scope, definition.name, { ...definition.audit(input), ...failureOf(error) });
      }
      return result;
    }
    if (definition.audit) {
      await audit(scope, definition.name, definition.audit(input, output.structuredContent));
    }
    const result = toolResult(output.structuredContent, output.text);
    return definition.runOf && declaresTasks(ctx)
      ? createTaskResult(definition.runOf(output.structuredContent), result)
      : result;
  };

  function unexpected(error: unknown): CallToolResult {
    parts.logger.error({ err: error, tool: definition.name }, "tool failed");
    return toolError(`${definition.name} failed unexpectedly; the server logged the details`, {
      code: "ERR_INTERNAL",
      retryable: false,
    });
  }
}

function toolContext(scope: RequestScope, ctx: ServerContext, startsRuns: boolean): ToolContext {
  const { caller, backend, budget } = scope;
  const wait = (id: string, seconds: number, weighed: boolean) =>
    backend.waitForRun(id, {
      timeoutMs: seconds * 1000,
      signal: ctx.mcpReq.signal,
      onChange: progressOf(ctx),
      access: accessFor(caller, "read"),
      ...(weighed ? { budget } : {}),
    });
  return {
    caller,
    backend,
    audit: scope.audit,
    catalogue: scope.catalogue,
    signal: ctx.mcpReq.signal,
    budget,
    access: (action) => accessFor(caller, action),
    startedBy: () => startedByOf(caller),
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
  scope: RequestScope,
  tool: string,
  facts: AuditFacts & Partial<Pick<AuditEvent, "reason" | "decision">>,
): Promise<void> {
  return scope.auditor.record({ ...auditEventOf(scope.caller, tool, "allowed"), ...facts });
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
