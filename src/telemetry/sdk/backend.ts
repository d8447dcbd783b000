import { type Attributes, context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
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
import type { MessageTrace, Step } from "./message-trace.js";
import { Attr } from "./names.js";
import type { HttpTrace } from "./request-trace.js";
import { spanContextOf } from "./spans.js";

/** What a call asked of which run or task (one shape for all: a step's attributes are a literal). */
interface Asked {
  task?: string;
  run?: string;
}

const run = (id: string): Asked => ({ run: id });
const outcome = (result: TaskRun, attributes: Attributes) => {
  attributes[Attr.runId] = result.id;
  attributes[Attr.task] = result.task;
  attributes[Attr.runStatus] = result.status;
};

/**
 * The backend as one call's handler sees it: each call a step of the call's
 * message (a span beneath its span), saying what it asked of which run or
 * task and how it ended (a WorkflowError's code as `error.type`). The call
 * runs in its step's context, so what it causes continues it: a run started
 * records it for its attempts (engine.ts), and on Render each API request
 * is its child (render.ts). Runs started are counted by task, traced or not.
 */
export class TracedBackend implements WorkflowBackend {
  constructor(
    private readonly backend: WorkflowBackend,
    private readonly kind: "local" | "render",
    private readonly instruments: Instruments,
    /** The call whose steps these are; absent: only runs started are counted (metrics only). */
    private readonly request?: HttpTrace,
    private readonly message?: MessageTrace,
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
      { task },
      () => this.backend.startRun(task, input, startedBy),
      (result, attributes) => {
        outcome(result, attributes);
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
    return this.#traced("list runs", { task: query.task }, () => this.backend.listRuns(query));
  }

  cancelRun(id: string, access: RunAccess, budget?: ReadBudget) {
    return this.#traced(
      "cancel run",
      run(id),
      () => this.backend.cancelRun(id, access, budget),
      (result, attributes) => outcome(result.run, attributes),
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
    asked: Asked,
    call: () => Promise<T>,
    ended?: (result: T, attributes: Attributes) => void,
  ): Promise<T> {
    const { request, message } = this;
    const identity = request && message && request.messageIdentity(message);
    if (!request || !message || !identity) {
      const result = await call();
      ended?.(result, {});
      return result;
    }
    const step: Step = {
      name,
      start: performance.now(),
      end: 0,
      attributes: {
        [Attr.backend]: this.kind,
        [Attr.task]: asked.task === undefined ? undefined : boundedText(asked.task),
        [Attr.runId]: asked.run === undefined ? undefined : boundedText(asked.run, 256),
        [Attr.runStatus]: undefined,
      },
      spanId: request.spans.spanId(),
    };
    try {
      const result = await context.with(
        trace.setSpanContext(ROOT_CONTEXT, spanContextOf(identity, step.spanId)),
        call,
      );
      ended?.(result, step.attributes);
      return result;
    } catch (error) {
      step.errorType = error instanceof WorkflowError ? error.code : "_OTHER";
      throw error;
    } finally {
      step.end = performance.now();
      request.spans.step(message, identity, step);
    }
  }
}
