import type { Message } from "./message.js";
import type {
  LogLine,
  Principal,
  StartedBy,
  TaskInfo,
  TaskInput,
  TaskRun,
  TaskRunStatus,
  TaskRunSummary,
} from "./run.js";

/**
 * Which runs a call may see: every run (a caller holding an `:all` scope), or
 * only the runs one principal started (same issuer and subject). A run the
 * caller may not see answers exactly like a run that does not exist.
 */
export type RunAccess = { kind: "all" } | { kind: "own"; owner: Principal };

/** What a caller does with a run: each has its own access (a caller may read every run, cancel its own). */
export type RunAction = "read" | "cancel";

/**
 * The memory a request's answer may take (src/http/answer-budget.ts): before
 * a backend builds a run with its input and results, it admits the run's
 * bytes (as JSON, where known without building it). `admit` throws
 * LimitReached when answers in flight already hold too much; a later
 * `admit` for the same request replaces the earlier figure.
 */
export interface ReadBudget {
  admit(bytes: number): void;
}

export interface StartOptions {
  /**
   * Makes starts with the same key start one run, where the backend can
   * (Render's idempotency key): an approval's start, retried, starts once.
   */
  idempotencyKey?: string;
}

export interface ListRunsQuery {
  task?: string;
  status?: TaskRunStatus[];
  limit: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
  /** Applied in the query itself: pages stay full and cursors stay valid. */
  access: RunAccess;
}

export interface RunPage {
  /** Newest first. */
  runs: TaskRunSummary[];
  nextCursor?: string;
}

export interface WaitOptions {
  /** How long to wait for a terminal status; the latest state is returned when it runs out. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called whenever the run's status (or attempt) changes while waiting. */
  onChange?: (run: TaskRun) => void;
  access: RunAccess;
  /** Admits the run answered at the end of the wait. */
  budget?: ReadBudget;
}

export interface LogsQuery {
  startTime?: string;
  endTime?: string;
  limit: number;
  cursor?: string;
}

export interface LogPage {
  /** Oldest first, newest last. */
  lines: LogLine[];
  nextCursor?: string;
}

export interface CancelOutcome {
  run: TaskRun;
  /** True when the run had already reached a terminal status; nothing was changed. */
  alreadyFinished: boolean;
}

/**
 * What the tools know of a workflow engine. Both the embedded engine and
 * Render's API implement it; every method raises WorkflowError subclasses for
 * conditions a caller can act on. Methods taking a RunAccess never reveal a
 * run outside it: such a run is RunNotFound, with the same message as a run
 * that does not exist.
 */
export interface WorkflowBackend {
  /** One line for the start banner: what is served, from where. */
  describe(): string;
  /**
   * What list_task_runs says of this backend's own way of listing, beyond
   * what every backend does (its bounds, what it lists without access to
   * every run); absent when there is nothing to add.
   */
  readonly listingNote?: Message;
  listTasks(): Promise<TaskInfo[]>;
  /**
   * The task name a `start_task_run` reference names, without I/O (for
   * per-task scopes): the name itself locally; on Render `square`,
   * `my-workflow/square` and `my-workflow/square:3` all name `square`.
   * Undefined when the reference cannot name a task of this backend.
   */
  taskNameOf(reference: string): string | undefined;
  /** Starts a run recorded as started by `startedBy`; subtasks inherit it. May throw LimitReached. */
  startRun(
    task: string,
    input: TaskInput,
    startedBy: StartedBy,
    options?: StartOptions,
  ): Promise<TaskRun>;
  /** The run in full; `budget` admits its bytes before it is built (where the backend can). */
  getRun(id: string, access: RunAccess, budget?: ReadBudget): Promise<TaskRun>;
  listRuns(query: ListRunsQuery): Promise<RunPage>;
  cancelRun(id: string, access: RunAccess, budget?: ReadBudget): Promise<CancelOutcome>;
  waitForRun(id: string, options: WaitOptions): Promise<TaskRun>;
  getRunLogs(id: string, query: LogsQuery, access: RunAccess): Promise<LogPage>;
  /** Stops taking work; lets running work finish within `graceMs` where the backend runs it. */
  close(options?: { graceMs?: number }): Promise<void>;
}
