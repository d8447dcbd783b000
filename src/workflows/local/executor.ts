import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import type { Logger } from "../../logger.js";
import type { AttemptSpan, Telemetry } from "../../telemetry/telemetry.js";
import { WorkflowError } from "../errors.js";
import { boundedError, isTerminal, type StartedBy } from "../run.js";
import { ownerKey } from "./access.js";
import { countAttempts, runRow, summaryRow } from "./db/queries.js";
import { startedByOf } from "./db/rows.js";
import type { EngineLimits } from "./limits.js";
import type { LogWriter } from "./log-writer.js";
import type { Recovered } from "./recovery.js";
import type { RegisteredTask } from "./registry.js";
import { retryDelayMs } from "./retry.js";
import type { RunChanges } from "./run-changes.js";
import type { SubtaskAnswer } from "./runner/protocol.js";
import type { AttemptHandle, AttemptOutcome, AttemptRunner } from "./runner/runner.js";
import type { QueuedAttempt, Scheduler } from "./scheduler.js";
import { storageRefusal } from "./storage-quota.js";
import { cancelRuns } from "./transitions/cancel-runs.js";
import { failAttempt } from "./transitions/fail-attempt.js";
import { insertRun } from "./transitions/insert-run.js";
import { interruptAttempt } from "./transitions/interrupt-attempt.js";
import { noLongerDefined, SERVER_STOPPED } from "./transitions/reasons.js";
import { startAttempt } from "./transitions/start-attempt.js";
import { succeedAttempt } from "./transitions/succeed-attempt.js";
import { validateInput } from "./validate.js";

export interface ExecutorParts {
  db: Database.Database;
  tasks: Map<string, RegisteredTask>;
  scheduler: Scheduler;
  runner: AttemptRunner;
  limits: EngineLimits;
  logger: Logger;
  changes: RunChanges;
  logs: LogWriter;
  now: () => Date;
  telemetry: Pick<Telemetry, "engine">;
}

/** An attempt holding a thread. */
interface Running {
  attempt: number;
  depth: number;
  rootId: string;
  handle: AttemptHandle;
  span: AttemptSpan;
}

/** A ctx.run waiting for a subtask run to end. */
interface SubtaskCall {
  parentId: string;
  parentAttempt: number;
  answer(answer: SubtaskAnswer): void;
}

export const newRunId = () => `trn-${randomBytes(10).toString("hex")}`;

/**
 * Runs attempts: takes what the scheduler admits, hands it to the runner,
 * and records how each attempt ends (a transition each) before telling
 * anyone, then retries, answers the parent awaiting a subtask, or fails.
 */
export class Executor {
  private readonly running = new Map<string, Running>();
  private readonly retryTimers = new Map<string, { timer: NodeJS.Timeout; depth: number }>();
  private readonly subtaskCalls = new Map<string, SubtaskCall>();
  /** Unfinished subtask runs under each root run. */
  private readonly openSubtasks = new Map<string, number>();
  private state: "open" | "draining" | "stopping" = "open";
  private idle: (() => void) | undefined;

  constructor(private readonly parts: ExecutorParts) {}

  /** Queues the root runs recovery found waiting (a retry's backoff kept), and starts what may start. */
  resume(recovered: Recovered[]): void {
    for (const { runId, attempt, owner, availableAt } of recovered) {
      const item = { runId, attempt, depth: 0, owner };
      const wait = availableAt ? Date.parse(availableAt) - Date.now() : 0;
      if (wait > 0) this.retryLater(item, wait);
      else this.parts.scheduler.enqueue(item);
    }
    this.pump();
  }

  /** A new root run, recorded: it waits its turn. */
  queueRoot(runId: string, owner: string): void {
    this.parts.scheduler.enqueue({ runId, attempt: 1, depth: 0, owner });
    this.pump();
  }

  stats() {
    const { scheduler, runner } = this.parts;
    return {
      held: scheduler.held,
      mostHeld: scheduler.highWater,
      queued: scheduler.queued,
      ...runner.stats(),
    };
  }

  /**
   * Runs that reached a terminal status: stop whatever still works for them,
   * answer a parent awaiting one, tell waiters.
   */
  ended(runIds: string[]): void {
    for (const runId of runIds) {
      this.parts.scheduler.remove(runId);
      const retry = this.retryTimers.get(runId);
      if (retry) clearTimeout(retry.timer);
      this.retryTimers.delete(runId);
      this.running.get(runId)?.handle.stop();
      const run = summaryRow(this.parts.db, runId);
      if (run && !run.parent_id && isTerminal(run.status)) {
        this.parts.telemetry.engine.runFinished(run.task, run.status);
      }
      if (run?.parent_id) {
        const open = (this.openSubtasks.get(run.root_id) ?? 1) - 1;
        if (open > 0) this.openSubtasks.set(run.root_id, open);
        else this.openSubtasks.delete(run.root_id);
        this.answerParent(runId);
      }
      this.parts.changes.announce(runId);
    }
  }

  /**
   * Stops taking work: roots no longer start; running attempts get `graceMs`
   * (their subtasks still start: they wait on them). Then what still runs is
   * interrupted (it runs again at the next start) and the threads end.
   */
  async shutDown(graceMs: number): Promise<void> {
    this.state = "draining";
    this.parts.scheduler.drain();
    // A root's retry waits in the database, with when it may start, for the next start.
    for (const [runId, { timer, depth }] of this.retryTimers) {
      if (depth > 0) continue;
      clearTimeout(timer);
      this.retryTimers.delete(runId);
    }
    if (this.running.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.state = "stopping";
    this.parts.logs.flush();
    this.interruptRunning();
    for (const { timer } of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    await this.parts.runner.close();
  }

  /** Grace ran out: running roots are interrupted (their subtrees canceled), stray subtasks canceled. */
  private interruptRunning(): void {
    const { db, limits, logger, changes } = this.parts;
    const changed: string[] = [];
    for (const [runId, { attempt, depth }] of this.running) {
      if (depth > 0) continue;
      const { canceled } = interruptAttempt(db, runId, attempt, limits.maxInterruptions);
      changed.push(runId, ...canceled);
      logger.warn({ runId, attempt }, "interrupted a run still running at shutdown");
    }
    const strays = [...this.running.keys()].filter((runId) => !changed.includes(runId));
    changed.push(...cancelRuns(db, strays, SERVER_STOPPED));
    for (const runId of changed) changes.announce(runId);
    for (const { handle } of this.running.values()) handle.stop();
  }

  /** Starts every attempt the scheduler admits now. */
  private pump(): void {
    if (this.state === "stopping") return;
    const { scheduler } = this.parts;
    for (let item = scheduler.next(); item; item = scheduler.next()) this.begin(item);
  }

  private begin(item: QueuedAttempt): void {
    const { db, tasks, scheduler, runner, changes, logs, logger } = this.parts;
    const run = runRow(db, item.runId);
    if (!run || isTerminal(run.status)) {
      scheduler.release(item.runId);
      return;
    }
    const task = tasks.get(run.task);
    if (!task) {
      scheduler.release(item.runId);
      const error = noLongerDefined(run.task);
      this.ended([...failAttempt(db, { runId: run.id, attempt: item.attempt, error }), run.id]);
      return;
    }
    startAttempt(db, run.id, item.attempt);
    changes.announce(run.id);
    const span = this.parts.telemetry.engine.attempt({
      id: run.id,
      task: run.task,
      attempt: item.attempt,
      ...(run.trace_parent === null ? {} : { parent: run.trace_parent }),
    });
    const handle = runner.start(
      {
        runId: run.id,
        attempt: item.attempt,
        task: run.task,
        argsJson: run.input,
        timeoutSeconds: task.timeoutSeconds,
      },
      {
        log: (line) => logs.add(run.id, line),
        subtask: (request, answer) => this.startSubtask(run.id, item.attempt, request, answer),
      },
    );
    this.running.set(run.id, {
      attempt: item.attempt,
      depth: item.depth,
      rootId: run.root_id,
      handle,
      span,
    });
    handle.outcome
      .then((outcome) => this.attemptEnded(item, outcome))
      .catch((error: unknown) =>
        logger.error({ err: error, runId: run.id }, "recording an attempt's end failed"),
      );
  }

  private attemptEnded(item: QueuedAttempt, outcome: AttemptOutcome): void {
    const { db, scheduler, logs } = this.parts;
    const { runId, attempt } = item;
    const running = this.running.get(runId);
    if (running?.attempt === attempt) {
      this.running.delete(runId);
      running.span.end(outcome.ok ? "succeeded" : outcome.stopped ? "stopped" : "failed");
    }
    scheduler.release(runId);
    // Shutting down: shutDown() records what was interrupted.
    if (this.state === "stopping") return;
    logs.flush();
    const run = summaryRow(db, runId);
    // Canceled meanwhile: the record already says so (and that is why it was stopped).
    if (run && !isTerminal(run.status)) {
      if (outcome.ok) {
        succeedAttempt(db, runId, attempt, outcome.resultsJson);
        this.ended([runId]);
      } else {
        this.failed(item, run.task, boundedError(outcome.error));
      }
    }
    if (this.running.size === 0) this.idle?.();
    this.pump();
  }

  private failed(item: QueuedAttempt, task: string, error: string): void {
    const { db, tasks, changes } = this.parts;
    const { runId, attempt } = item;
    const delay = retryDelayMs(tasks.get(task), countAttempts(db, runId, "retry"));
    const retryAt = delay === undefined ? undefined : new Date(Date.now() + delay).toISOString();
    this.ended(failAttempt(db, { runId, attempt, error, retryAt }));
    if (delay === undefined) {
      this.ended([runId]);
      return;
    }
    changes.announce(runId);
    // While draining, a root's retry waits for the next start; a subtask's parent is waiting for it.
    if (this.state === "open" || item.depth > 0) {
      this.retryLater({ ...item, attempt: attempt + 1 }, delay);
    }
  }

  private retryLater(item: QueuedAttempt, delayMs: number): void {
    const timer = setTimeout(() => {
      this.retryTimers.delete(item.runId);
      this.parts.scheduler.enqueue(item);
      this.pump();
    }, delayMs);
    this.retryTimers.set(item.runId, { timer, depth: item.depth });
  }

  private answerParent(childId: string): void {
    const call = this.subtaskCalls.get(childId);
    if (!call) return;
    this.subtaskCalls.delete(childId);
    if (this.running.get(call.parentId)?.attempt !== call.parentAttempt) return;
    const child = runRow(this.parts.db, childId);
    if (!child) return;
    if (child.status === "succeeded") {
      call.answer({ ok: true, resultsJson: child.results ?? "[null]" });
    } else {
      call.answer({
        ok: false,
        error:
          child.status === "canceled"
            ? `subtask ${child.id} (${child.task}) was canceled`
            : `subtask ${child.id} (${child.task}) failed: ${child.error ?? "no error message"}`,
      });
    }
  }

  /** A running attempt called ctx.run: validate, record the subtask run, queue it one level deeper. */
  private startSubtask(
    parentId: string,
    parentAttempt: number,
    request: { task: string; argsJson: string },
    answer: (answer: SubtaskAnswer) => void,
  ): void {
    const { db, scheduler } = this.parts;
    const parent = this.running.get(parentId);
    const parentRow = summaryRow(db, parentId);
    if (parent?.attempt !== parentAttempt || !parentRow || this.state === "stopping") return;
    const startedBy = startedByOf(parentRow);
    const accepted = this.acceptSubtask(parentId, parent, request, startedBy);
    if (typeof accepted === "string") {
      answer({ ok: false, error: accepted });
      return;
    }
    const depth = parent.depth + 1;
    const id = newRunId();
    const traceParent = parent.span.traceparent;
    insertRun(db, {
      id,
      task: accepted.task.name,
      input: accepted.args,
      parentId,
      rootId: parent.rootId,
      depth,
      startedBy,
      ...(traceParent === undefined ? {} : { traceParent }),
    });
    this.openSubtasks.set(parent.rootId, (this.openSubtasks.get(parent.rootId) ?? 0) + 1);
    this.subtaskCalls.set(id, { parentId, parentAttempt, answer });
    scheduler.enqueue({ runId: id, attempt: 1, depth, owner: ownerKey(startedBy) });
    this.pump();
  }

  /** The subtask's task and arguments, or why it may not start. */
  private acceptSubtask(
    parentId: string,
    parent: Running,
    request: { task: string; argsJson: string },
    owner: StartedBy | undefined,
  ): { task: RegisteredTask; args: unknown[] } | string {
    const depth = parent.depth + 1;
    const { maxSubtaskDepth, maxOpenSubtasksPerRun } = this.parts.limits;
    if (depth > maxSubtaskDepth) {
      return `subtasks nest at most ${maxSubtaskDepth} deep: ${request.task} would run ${depth} deep, under ${parentId}`;
    }
    if ((this.openSubtasks.get(parent.rootId) ?? 0) >= maxOpenSubtasksPerRun) {
      return `run ${parent.rootId} already has ${maxOpenSubtasksPerRun} unfinished subtask runs, the most one run may have; await some before starting more`;
    }
    const task = this.parts.tasks.get(request.task);
    if (!task) return `Unknown task "${request.task.slice(0, 100)}"`;
    try {
      const args = validateInput(task, JSON.parse(request.argsJson));
      // Subtasks store for their root's owner too: a tree cannot go past the quota either.
      const refusal =
        owner && storageRefusal(this.parts.db, owner, args, this.parts.limits, this.parts.now());
      return refusal ? refusal.message : { task, args };
    } catch (error) {
      return error instanceof WorkflowError
        ? error.message
        : "the subtask's arguments are not JSON";
    }
  }
}
