import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import type { Logger } from "../../logger.js";
import type {
  CancelOutcome,
  ListRunsQuery,
  LogPage,
  LogsQuery,
  RunPage,
  WaitOptions,
  WorkflowBackend,
} from "../backend.js";
import { InputTooLarge, InvalidInput, RunNotFound, UnknownTask } from "../errors.js";
import {
  isTerminal,
  MAX_INPUT_BYTES,
  type TaskInfo,
  type TaskInput,
  type TaskRun,
} from "../run.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import type { FromWorker, ToWorker, WorkerInput } from "./messages.js";
import type { RunStore } from "./store.js";
import type { TaskDefinition } from "./task.js";

const WORKER_URL = new URL("./worker.js", import.meta.url);
const INTERRUPTED = "interrupted: the server stopped while this attempt was running";

export interface EngineOptions {
  store: RunStore;
  tasks: Map<string, TaskDefinition>;
  tasksModule: string;
  describe: string;
  logger: Logger;
  /** Root runs executing at once; more wait as `pending`. Subtasks never wait behind their parents. */
  concurrency?: number;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };

/** A run that holds a worker or waits for its next attempt. */
interface Active {
  stop(): void;
}

/**
 * The embedded engine: each attempt runs in a worker thread, every state
 * change is written to SQLite before anyone hears of it, and a restart picks
 * up exactly where the record says things were.
 */
export class LocalEngine implements WorkflowBackend {
  readonly kind = "local";
  private readonly store: RunStore;
  private readonly tasks: Map<string, TaskDefinition>;
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private readonly active = new Map<string, Active>();
  private readonly queue: { runId: string; attempt: number }[] = [];
  private readonly concurrency: number;
  private runningRoots = 0;
  private closed = false;
  private readonly closing = new AbortController();

  constructor(private readonly options: EngineOptions) {
    this.store = options.store;
    this.tasks = options.tasks;
    this.concurrency = options.concurrency ?? 4;
    this.recover();
  }

  describe(): string {
    return this.options.describe;
  }

  async listTasks(): Promise<TaskInfo[]> {
    return [...this.tasks.values()].map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.input
        ? (z.toJSONSchema(t.input, { unrepresentable: "any" }) as Record<string, unknown>)
        : undefined,
      retry: t.retry,
      timeoutSeconds: t.timeoutSeconds,
    }));
  }

  async startRun(task: string, input: TaskInput): Promise<TaskRun> {
    const definition = this.definition(task);
    const args = validate(definition, input);
    const id = newRunId();
    this.store.insertRun({ id, task, input: args, rootId: id });
    this.schedule(id, 1);
    return this.mustGet(id);
  }

  async getRun(id: string): Promise<TaskRun> {
    return this.mustGet(id);
  }

  async listRuns({ task, status, limit, cursor }: ListRunsQuery): Promise<RunPage> {
    const position = cursor ? decodeCursor(cursor, isSeqCursor) : undefined;
    const rows = this.store.listRuns({
      task,
      statuses: status,
      beforeSeq: position?.seq,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      runs: page.map((row) => row.run),
      nextCursor: rows.length > limit && last ? encodeCursor({ seq: last.seq }) : undefined,
    };
  }

  async cancelRun(id: string): Promise<CancelOutcome> {
    const run = this.mustGet(id);
    if (isTerminal(run.status)) return { run, alreadyFinished: true };
    // The whole subtree: a canceled parent's subtasks have no one to report to.
    const subtree = [id];
    for (let i = 0; i < subtree.length; i++)
      subtree.push(...this.store.childrenOf(subtree[i] as string));
    for (const runId of subtree) {
      this.store.cancelRun(runId);
      this.stop(runId);
      this.changed(runId);
    }
    return { run: this.mustGet(id), alreadyFinished: false };
  }

  async waitForRun(id: string, { timeoutMs, signal, onChange }: WaitOptions): Promise<TaskRun> {
    const run = this.mustGet(id);
    if (isTerminal(run.status) || signal?.aborted || this.closed) return run;
    // Every state change is announced, so the last announcement is the latest state:
    // finishing never reads the store, which close() may already have shut.
    let latest = run;
    return new Promise((resolve) => {
      const finish = () => {
        this.changes.off(id, listener);
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        this.closing.signal.removeEventListener("abort", finish);
        resolve(latest);
      };
      const listener = (changed: TaskRun) => {
        latest = changed;
        onChange?.(changed);
        if (isTerminal(changed.status)) finish();
      };
      this.changes.on(id, listener);
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener("abort", finish, { once: true });
      this.closing.signal.addEventListener("abort", finish, { once: true });
    });
  }

  async getRunLogs(id: string, { startTime, endTime, limit, cursor }: LogsQuery): Promise<LogPage> {
    this.mustGet(id);
    const isLogCursor = (value: Record<string, unknown>): value is { run: string; seq: number } =>
      value.run === id && Number.isInteger(value.seq);
    const position = cursor ? decodeCursor(cursor, isLogCursor) : undefined;
    const rows = this.store.logs({
      runId: id,
      afterSeq: position?.seq,
      startTime: instant("start time", startTime),
      endTime: instant("end time", endTime),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      lines: page.map((row) => row.line),
      nextCursor:
        rows.length > limit && last ? encodeCursor({ run: id, seq: last.seq }) : undefined,
    };
  }

  /** Stops every worker but leaves their runs as recorded: the next start recovers them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Waiters get the state they last saw, before the store shuts.
    this.closing.abort();
    for (const runId of [...this.active.keys()]) this.stop(runId);
    this.queue.length = 0;
    this.changes.removeAllListeners();
    this.store.close();
  }

  private definition(task: string): TaskDefinition {
    const definition = this.tasks.get(task);
    if (!definition) {
      throw new UnknownTask(
        `Unknown task "${task}". Tasks here: ${[...this.tasks.keys()].join(", ")} (see list_tasks)`,
      );
    }
    return definition;
  }

  private mustGet(id: string): TaskRun {
    const run = this.store.getRun(id);
    if (!run)
      throw new RunNotFound(
        `No task run with id "${id}" (list_task_runs shows the runs there are)`,
      );
    return run;
  }

  private changed(runId: string): void {
    const run = this.store.getRun(runId);
    if (run) this.changes.emit(runId, run);
  }

  private stop(runId: string): void {
    this.active.get(runId)?.stop();
    this.active.delete(runId);
    const queued = this.queue.findIndex((entry) => entry.runId === runId);
    if (queued >= 0) this.queue.splice(queued, 1);
  }

  /** Root attempts wait for a slot; subtask attempts run at once, their parents being mid-run. */
  private schedule(runId: string, attempt: number, root = true): void {
    if (this.closed) return;
    if (!root) {
      this.execute(runId, attempt, false);
    } else if (this.runningRoots < this.concurrency) {
      this.runningRoots++;
      this.execute(runId, attempt, true);
    } else {
      this.queue.push({ runId, attempt });
    }
  }

  private releaseSlot(): void {
    this.runningRoots--;
    const next = this.queue.shift();
    if (next) this.schedule(next.runId, next.attempt);
  }

  private execute(runId: string, attempt: number, root: boolean): void {
    const run = this.store.getRun(runId);
    const definition = run && this.tasks.get(run.task);
    if (!run || isTerminal(run.status) || !definition) {
      if (run && !isTerminal(run.status)) {
        this.store.failAttempt(runId, attempt, `task ${run.task} is no longer defined`, false);
        this.changed(runId);
      }
      if (root) this.releaseSlot();
      return;
    }
    this.store.startAttempt(runId, attempt);
    this.changed(runId);

    const workerData: WorkerInput = {
      tasksModule: this.options.tasksModule,
      task: run.task,
      args: Array.isArray(run.input) ? run.input : [],
      runId,
      attempt,
    };
    const worker = new Worker(WORKER_URL, {
      workerData,
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      this.active.delete(runId);
      void worker.terminate();
      this.attemptEnded(runId, attempt, root, definition, outcome);
    };
    const timeout = definition.timeoutSeconds
      ? setTimeout(
          () => settle({ ok: false, error: `timed out after ${definition.timeoutSeconds} s` }),
          definition.timeoutSeconds * 1000,
        )
      : undefined;
    this.active.set(runId, { stop: () => settle({ ok: false, error: "canceled" }) });

    // Direct writes to process.stdout/stderr (console is already a log); late ones after close are lost.
    const capture = (level: "info" | "error") => (chunk: Buffer) => {
      if (this.closed) return;
      for (const message of chunk.toString("utf8").split("\n").filter(Boolean)) {
        this.store.appendLog(runId, { timestamp: new Date().toISOString(), level, message });
      }
    };
    worker.stdout.on("data", capture("info"));
    worker.stderr.on("data", capture("error"));
    worker.on("message", (message: FromWorker) => {
      if (settled) return;
      switch (message.type) {
        case "log":
          this.store.appendLog(runId, message);
          break;
        case "subtask":
          this.startSubtask(run, message, worker);
          break;
        case "done":
          settle(
            message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error },
          );
          break;
      }
    });
    worker.on("error", (error) => settle({ ok: false, error: error.message }));
    worker.on("exit", (code) =>
      settle({ ok: false, error: `the task's worker exited (code ${code}) before finishing` }),
    );
  }

  private attemptEnded(
    runId: string,
    attempt: number,
    root: boolean,
    definition: TaskDefinition,
    outcome: Outcome,
  ) {
    if (this.closed) return;
    if (root) this.releaseSlot();
    // Canceled meanwhile: the record already says so.
    if (isTerminal(this.mustGet(runId).status)) return;
    if (outcome.ok) {
      this.store.succeedAttempt(runId, attempt, [outcome.value]);
      this.changed(runId);
      return;
    }
    const retry = definition.retry;
    const retryable = retry !== undefined && attempt <= retry.maxRetries;
    this.store.failAttempt(runId, attempt, outcome.error, retryable);
    this.changed(runId);
    if (retry && retryable) {
      const delay = retry.waitDurationMs * retry.backoffScaling ** (attempt - 1);
      const timer = setTimeout(() => {
        this.active.delete(runId);
        this.schedule(runId, attempt + 1, root);
      }, delay);
      this.active.set(runId, { stop: () => clearTimeout(timer) });
    }
  }

  private startSubtask(
    parent: TaskRun,
    message: Extract<FromWorker, { type: "subtask" }>,
    worker: Worker,
  ) {
    const reply = (answer: ToWorker) => {
      try {
        worker.postMessage(answer);
      } catch {
        // the parent's attempt has ended; nobody waits for the answer
      }
    };
    let id: string;
    try {
      const definition = this.definition(message.task);
      const args = validate(definition, message.args);
      id = newRunId();
      this.store.insertRun({
        id,
        task: message.task,
        input: args,
        parentId: parent.id,
        rootId: parent.rootTaskRunId,
      });
    } catch (error) {
      reply({
        type: "subtask-done",
        callId: message.callId,
        ok: false,
        error: (error as Error).message,
      });
      return;
    }
    const childChanged = (child: TaskRun) => {
      if (!isTerminal(child.status)) return;
      this.changes.off(id, childChanged);
      reply(
        child.status === "succeeded"
          ? { type: "subtask-done", callId: message.callId, ok: true, value: child.results?.[0] }
          : {
              type: "subtask-done",
              callId: message.callId,
              ok: false,
              error:
                child.status === "canceled"
                  ? `subtask ${child.id} (${child.task}) was canceled`
                  : `subtask ${child.id} (${child.task}) failed: ${child.error ?? "no error message"}`,
            },
      );
    };
    this.changes.on(id, childChanged);
    this.schedule(id, 1, false);
  }

  /** After a crash or restart: no run stays `running` with nobody running it. */
  private recover(): void {
    for (const run of this.store.unfinishedRuns()) {
      const last = run.attempts.at(-1);
      if (!last) continue;
      if (last.status === "pending" && !run.parentTaskRunId) {
        this.schedule(run.id, last.attempt);
        continue;
      }
      // An interrupted subtask's parent is retried or failed itself; nobody waits for this one.
      const maxRetries = this.tasks.get(run.task)?.retry?.maxRetries ?? 0;
      const retry = !run.parentTaskRunId && last.attempt <= maxRetries;
      this.store.failAttempt(run.id, last.attempt, INTERRUPTED, retry);
      this.options.logger.warn(
        { runId: run.id, attempt: last.attempt, retry },
        "recovered an interrupted run",
      );
      if (retry) this.schedule(run.id, last.attempt + 1);
    }
  }
}

function validate(definition: TaskDefinition, input: unknown): unknown[] {
  if (!Array.isArray(input)) {
    throw new InvalidInput(
      `${definition.name} is a TypeScript task: its input is an array of positional arguments (for example [3]), not ${input !== null && typeof input === "object" ? "an object of named parameters" : typeof input}`,
    );
  }
  let json: string;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    throw new InvalidInput(
      `The input to ${definition.name} is not JSON-serialisable: ${(error as Error).message}`,
    );
  }
  if (Buffer.byteLength(json) > MAX_INPUT_BYTES) {
    throw new InputTooLarge(
      `The input to ${definition.name} exceeds ${MAX_INPUT_BYTES} bytes; pass a reference (a URL or id) instead`,
    );
  }
  if (!definition.input) return input;
  const parsed = definition.input.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `input${issue.path.map((p) => `[${String(p)}]`).join("")}: ${issue.message}`,
  );
  throw new InvalidInput(`${definition.name} refused its input: ${problems.join("; ")}`);
}

/** Stored timestamps are UTC ISO strings with milliseconds: bounds must match to compare. */
function instant(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new InvalidInput(
      `The ${name} "${value}" is not an ISO 8601 time; use one like 2026-01-31T12:00:00Z`,
    );
  }
  return new Date(time).toISOString();
}

const isSeqCursor = (value: Record<string, unknown>): value is { seq: number } =>
  Number.isInteger(value.seq) && Object.keys(value).length === 1;

const newRunId = () => `trn-${randomBytes(10).toString("hex")}`;
