import type Database from "better-sqlite3";
import { z } from "zod";
import type { Logger } from "../../logger.js";
import type { Telemetry } from "../../telemetry/telemetry.js";
import { listQueryDigest } from "../access.js";
import { tooManyActiveRuns } from "../active-runs.js";
import { answerSizeOf } from "../answer-size.js";
import type {
  CancelOutcome,
  ListRunsQuery,
  LogPage,
  LogsQuery,
  ReadBudget,
  RunAccess,
  RunAction,
  RunPage,
  WaitOptions,
  WorkflowBackend,
} from "../backend.js";
import { BackendUnavailable, UnknownTask } from "../errors.js";
import { isTerminal, StartedBy, type TaskInfo, type TaskInput, type TaskRun } from "../run.js";
import { ownerKey, runNotFound } from "./access.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import {
  getRun,
  listRuns,
  logPage,
  runBytes,
  unfinishedDescendants,
  unfinishedRoots,
} from "./db/queries.js";
import { Executor, newRunId } from "./executor.js";
import { type EngineLimits, MAX_LOG_PAGE_CHARS } from "./limits.js";
import { LogWriter } from "./log-writer.js";
import { recover } from "./recovery.js";
import type { RegisteredTask } from "./registry.js";
import { Retention } from "./retention.js";
import { RunChanges } from "./run-changes.js";
import type { AttemptRunner } from "./runner/runner.js";
import type { Scheduler } from "./scheduler.js";
import { storageRefusal } from "./storage-quota.js";
import { cancelRuns } from "./transitions/cancel-runs.js";
import { insertRun } from "./transitions/insert-run.js";
import { instant, pageLimit, statusFilter, validateInput } from "./validate.js";

export interface EngineParts {
  db: Database.Database;
  tasks: Map<string, RegisteredTask>;
  runner: AttemptRunner;
  scheduler: Scheduler;
  limits: EngineLimits;
  logger: Logger;
  describe: string;
  /** The clock retention and the storage quota read (tests move it). */
  now: () => Date;
  /** Attempts in spans continuing their run's start; runs finished, waiting and running counted. */
  telemetry: Pick<Telemetry, "engine" | "traceparent">;
}

/**
 * The embedded engine as the tools see it: validates what callers send,
 * applies their access to every read (in SQL), records new runs and
 * cancellations, and leaves running attempts to the Executor. Recovery runs
 * before the first attempt starts; retention then deletes old finished runs.
 */
export class LocalEngine implements WorkflowBackend {
  private readonly db: Database.Database;
  private readonly tasks: Map<string, RegisteredTask>;
  private readonly changes: RunChanges;
  private readonly logs: LogWriter;
  private readonly executor: Executor;
  private readonly retention: Retention;
  private closed: Promise<void> | undefined;
  private open = true;

  constructor(private readonly parts: EngineParts) {
    const { db, tasks, limits, logger } = parts;
    this.db = db;
    this.tasks = tasks;
    this.changes = new RunChanges(db);
    this.logs = new LogWriter(db);
    this.executor = new Executor({ ...parts, changes: this.changes, logs: this.logs });
    this.executor.resume(recover(db, limits.maxInterruptions, logger));
    this.retention = new Retention({ db, logger, days: limits.runRetentionDays, now: parts.now });
    this.retention.start();
    parts.telemetry.engine.observe(() => this.executor.stats());
  }

  describe(): string {
    return this.parts.describe;
  }

  /** Threads held and queued attempts (the scheduler's count) and threads alive (the pool's). */
  stats() {
    return this.executor.stats();
  }

  /**
   * Tasks are registered once at start, so their descriptions (and the JSON
   * Schemas of their inputs, which cost a zod conversion each) are computed
   * once too, and frozen: they are shared by every caller.
   */
  private taskInfos: readonly TaskInfo[] | undefined;

  async listTasks(): Promise<TaskInfo[]> {
    this.taskInfos ??= deepFreeze(
      [...this.tasks.values()].map((task) => ({
        name: task.name,
        description: task.description,
        inputSchema: task.input
          ? (z.toJSONSchema(task.input, { unrepresentable: "any" }) as Record<string, unknown>)
          : undefined,
        retry: task.retry,
        timeoutSeconds: task.timeoutSeconds,
      })),
    );
    return [...this.taskInfos];
  }

  taskNameOf(reference: string): string | undefined {
    return this.tasks.has(reference) ? reference : undefined;
  }

  async startRun(task: string, input: TaskInput, startedBy: StartedBy): Promise<TaskRun> {
    this.assertOpen();
    const definition = this.tasks.get(task);
    if (!definition) {
      throw new UnknownTask(
        `Unknown task "${task.slice(0, 100)}". Tasks here: ${[...this.tasks.keys()].join(", ")} (see list_tasks)`,
      );
    }
    const args = validateInput(definition, input);
    const owner = StartedBy.parse(startedBy);
    const key = ownerKey(owner);
    const { maxActiveRunsPerCaller: active } = this.parts.limits;
    // Counted and inserted with no await between: concurrent starts cannot both pass.
    if (active > 0 && unfinishedRoots(this.db, owner, active) >= active) {
      throw tooManyActiveRuns(active);
    }
    this.parts.scheduler.checkNewRoot(key);
    const refusal = storageRefusal(this.db, owner, args, this.parts.limits, this.parts.now());
    if (refusal) throw refusal;
    const id = newRunId();
    const traceParent = this.parts.telemetry.traceparent();
    insertRun(this.db, {
      id,
      task,
      input: args,
      rootId: id,
      depth: 0,
      startedBy: owner,
      ...(traceParent === undefined ? {} : { traceParent }),
    });
    this.executor.queueRoot(id, key);
    return this.mustGet(id, { kind: "all" });
  }

  async getRun(id: string, access: RunAccess, budget?: ReadBudget): Promise<TaskRun> {
    this.assertOpen();
    return this.mustGet(id, access, "read", budget);
  }

  async listRuns({ task, status, limit, cursor, access }: ListRunsQuery): Promise<RunPage> {
    this.assertOpen();
    const size = pageLimit(limit);
    // A cursor is honoured only for the filters, and the caller, it was issued to.
    const query = listQueryDigest({ task, status, access });
    const isListCursor = (value: Record<string, unknown>): value is { q: string; seq: number } =>
      value.q === query && Number.isInteger(value.seq) && Object.keys(value).length === 2;
    const position = cursor ? decodeCursor(cursor, isListCursor) : undefined;
    const rows = listRuns(this.db, {
      task,
      statuses: statusFilter(status),
      beforeSeq: position?.seq,
      limit: size + 1,
      access,
    });
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return {
      runs: page.map((row) => row.run),
      ...(rows.length > size && last
        ? { nextCursor: encodeCursor({ q: query, seq: last.seq }) }
        : {}),
    };
  }

  async cancelRun(id: string, access: RunAccess, budget?: ReadBudget): Promise<CancelOutcome> {
    this.assertOpen();
    const run = this.mustGet(id, access, "cancel", budget);
    if (isTerminal(run.status)) return { run, alreadyFinished: true };
    // The whole subtree: a canceled parent's subtasks have no one to report to.
    this.executor.ended(cancelRuns(this.db, [id, ...unfinishedDescendants(this.db, id)]));
    return { run: this.mustGet(id, access, "cancel"), alreadyFinished: false };
  }

  async waitForRun(id: string, { access, budget, ...options }: WaitOptions): Promise<TaskRun> {
    this.assertOpen();
    const run = await this.changes.wait(this.mustGet(id, access, "read", budget), options);
    // What it has become (its results) is what the answer holds.
    budget?.admit(answerSizeOf(run));
    return run;
  }

  async getRunLogs(
    id: string,
    { startTime, endTime, limit, cursor }: LogsQuery,
    access: RunAccess,
  ): Promise<LogPage> {
    this.assertOpen();
    if (runBytes(this.db, id, access) === undefined) throw runNotFound(id, access);
    const size = pageLimit(limit);
    const isLogCursor = (value: Record<string, unknown>): value is { run: string; seq: number } =>
      value.run === id && Number.isInteger(value.seq) && Object.keys(value).length === 2;
    const position = cursor ? decodeCursor(cursor, isLogCursor) : undefined;
    this.logs.flush();
    const rows = logPage(this.db, {
      runId: id,
      afterSeq: position?.seq,
      startTime: instant("start time", startTime),
      endTime: instant("end time", endTime),
      limit: size + 1,
    });
    const page: typeof rows = [];
    let chars = 0;
    for (const row of rows.slice(0, size)) {
      chars += row.line.message.length;
      if (page.length > 0 && chars > MAX_LOG_PAGE_CHARS) break;
      page.push(row);
    }
    const last = page.at(-1);
    return {
      lines: page.map((row) => row.line),
      ...(rows.length > page.length && last
        ? { nextCursor: encodeCursor({ run: id, seq: last.seq }) }
        : {}),
    };
  }

  /**
   * Stops taking work: root runs no longer start (new ones are still
   * recorded, to start after the restart) and running attempts get `graceMs`
   * to finish. Whatever still runs then is interrupted: it runs again at the
   * next start, not counted as a retry. Waiters get the latest state.
   */
  close({ graceMs = 0 }: { graceMs?: number } = {}): Promise<void> {
    this.closed ??= (async () => {
      await Promise.all([this.retention.stop(), this.executor.shutDown(graceMs)]);
      this.open = false;
      this.changes.close();
      this.logs.close();
      this.db.close();
    })();
    return this.closed;
  }

  private assertOpen(): void {
    if (!this.open) {
      throw new BackendUnavailable(
        "The embedded engine has stopped; try again once the server is back",
        { retryAfterSeconds: 5 },
      );
    }
  }

  /** The run in full; with a budget, weighed (and maybe refused) before it is read. */
  private mustGet(
    id: string,
    access: RunAccess,
    action: RunAction = "read",
    budget?: ReadBudget,
  ): TaskRun {
    if (budget) {
      const bytes = runBytes(this.db, id, access);
      if (bytes === undefined) throw runNotFound(id, access, action);
      budget.admit(bytes);
    }
    const run = getRun(this.db, id, access);
    if (!run) throw runNotFound(id, access, action);
    return run;
  }
}

/** Freezes a JSON-like value and everything in it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
