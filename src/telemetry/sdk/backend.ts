import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { boundedText } from "../../http/bounded.js";
import type { WorkflowBackend } from "../../workflows/backend.js";
import { WorkflowError } from "../../workflows/errors.js";
import type { TaskRun } from "../../workflows/run.js";
import type { Instruments } from "./instruments.js";
import { Attr } from "./names.js";

/**
 * The backend the tools call, each call in a span under the message's: what
 * it asked of which run or task, and how it ended (a WorkflowError's code as
 * `error.type`). The Render API requests and the engine's attempts a call
 * causes are spans of their own beneath (render.ts, engine.ts). Runs started
 * are counted by task.
 */
export function tracedBackend(
  backend: WorkflowBackend,
  kind: "local" | "render",
  tracer: Tracer,
  instruments: Instruments,
): WorkflowBackend {
  const traced = async <T>(
    name: string,
    attributes: Attributes,
    call: () => Promise<T>,
    ended?: (result: T, span: Span) => void,
  ): Promise<T> => {
    const span = tracer.startSpan(name, {
      kind: SpanKind.INTERNAL,
      attributes: { [Attr.backend]: kind, ...attributes },
    });
    try {
      const result = await context.with(trace.setSpan(context.active(), span), call);
      ended?.(result, span);
      return result;
    } catch (error) {
      span.setAttribute(Attr.errorType, error instanceof WorkflowError ? error.code : "_OTHER");
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  };
  const run = (id: string) => ({ [Attr.runId]: boundedText(id, 256) });
  const outcome = (result: TaskRun, span: Span) =>
    span.setAttributes({
      [Attr.runId]: result.id,
      [Attr.task]: result.task,
      [Attr.runStatus]: result.status,
    });

  return {
    describe: () => backend.describe(),
    ...(backend.listingNote ? { listingNote: backend.listingNote } : {}),
    taskNameOf: (reference) => backend.taskNameOf(reference),
    close: (options) => backend.close(options),
    listTasks: () => traced("list tasks", {}, () => backend.listTasks()),
    startRun: (task, input, startedBy) =>
      traced(
        "start run",
        { [Attr.task]: boundedText(task) },
        () => backend.startRun(task, input, startedBy),
        (result, span) => {
          outcome(result, span);
          instruments.runsStarted.add(1, { [Attr.task]: result.task, [Attr.backend]: kind });
        },
      ),
    getRun: (id, access, budget) =>
      traced("get run", run(id), () => backend.getRun(id, access, budget), outcome),
    listRuns: (query) =>
      traced(
        "list runs",
        query.task === undefined ? {} : { [Attr.task]: boundedText(query.task) },
        () => backend.listRuns(query),
      ),
    cancelRun: (id, access, budget) =>
      traced(
        "cancel run",
        run(id),
        () => backend.cancelRun(id, access, budget),
        (result, span) => outcome(result.run, span),
      ),
    waitForRun: (id, options) =>
      traced("wait for run", run(id), () => backend.waitForRun(id, options), outcome),
    getRunLogs: (id, query, access) =>
      traced("get run logs", run(id), () => backend.getRunLogs(id, query, access)),
  };
}
