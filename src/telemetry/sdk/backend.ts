import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { boundedText } from "../../http/bounded.js";
import type {
  ListRunsQuery,
  LogsQuery,
  ReadBudget,
  RunAccess,
  WaitOptions,
  WorkflowBackend,
} from "../../workflows/backend.js";
import { WorkflowError } from "../../workflows/errors.js";
import type { StartedBy, TaskInput, TaskRun } from "../../workflows/run.js";
import type { Instruments } from "./instruments.js";
import { Attr } from "./names.js";

const run = (id: string) => ({ [Attr.runId]: boundedText(id, 256) });
const outcome = (result: TaskRun, span: Span) =>
  span.setAttributes({
    [Attr.runId]: result.id,
    [Attr.task]: result.task,
    [Attr.runStatus]: result.status,
  });

/**
 * The backend as one call's handler sees it: each call a span under the
 * call's message span (`parent`), saying what it asked of which run or task
 * and how it ended (a WorkflowError's code as `error.type`). The call runs
 * with its span current, so what it causes continues it: a run started
 * records it for its attempts (engine.ts), and on Render each API request
 * is its child (render.ts). Runs started are counted by task.
 */
export class TracedBackend implements WorkflowBackend {
  constructor(
    private readonly backend: WorkflowBackend,
    private readonly kind: "local" | "render",
    private readonly parent: Context,
    private readonly tracer: Tracer,
    private readonly instruments: Instruments,
  ) {}

  get listingNote() {
    return this.backend.listingNote;
  }

  describe(): string {
    return this.backend.describe();
  }

  taskNameOf(reference: string): string | undefined {
    return this.backend.taskNameOf(reference);
  }

  close(options?: { graceMs?: number }): Promise<void> {
    return this.backend.close(options);
  }

  listTasks() {
    return this.#traced("list tasks", {}, () => this.backend.listTasks());
  }

  startRun(task: string, input: TaskInput, startedBy: StartedBy): Promise<TaskRun> {
    return this.#traced(
      "start run",
      { [Attr.task]: boundedText(task) },
      () => this.backend.startRun(task, input, startedBy),
      (result, span) => {
        outcome(result, span);
        this.instruments.runsStarted.add(1, {
          [Attr.task]: result.task,
          [Attr.backend]: this.kind,
        });
      },
    );
  }

  getRun(id: string, access: RunAccess, budget?: ReadBudget) {
    return this.#traced("get run", run(id), () => this.backend.getRun(id, access, budget), outcome);
  }

  listRuns(query: ListRunsQuery) {
    const task = query.task === undefined ? {} : { [Attr.task]: boundedText(query.task) };
    return this.#traced("list runs", task, () => this.backend.listRuns(query));
  }

  cancelRun(id: string, access: RunAccess, budget?: ReadBudget) {
    return this.#traced(
      "cancel run",
      run(id),
      () => this.backend.cancelRun(id, access, budget),
      (result, span) => outcome(result.run, span),
    );
  }

  waitForRun(id: string, options: WaitOptions) {
    return this.#traced(
      "wait for run",
      run(id),
      () => this.backend.waitForRun(id, options),
      outcome,
    );
  }

  getRunLogs(id: string, query: LogsQuery, access: RunAccess) {
    return this.#traced("get run logs", run(id), () => this.backend.getRunLogs(id, query, access));
  }

  async #traced<T>(
    name: string,
    attributes: Attributes,
    call: () => Promise<T>,
    ended?: (result: T, span: Span) => void,
  ): Promise<T> {
    const span = this.tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, attributes: { [Attr.backend]: this.kind, ...attributes } },
      this.parent,
    );
    try {
      const result = await context.with(trace.setSpan(this.parent, span), call);
      ended?.(result, span);
      return result;
    } catch (error) {
      span.setAttribute(Attr.errorType, error instanceof WorkflowError ? error.code : "_OTHER");
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }
}
