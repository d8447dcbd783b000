import type { LogLine, TaskInfo, TaskInput, TaskRun, TaskRunStatus } from "./run.js";

export interface ListRunsQuery {
  task?: string;
  status?: TaskRunStatus[];
  limit: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
}

export interface RunPage {
  /** Newest first. */
  runs: TaskRun[];
  nextCursor?: string;
}

export interface WaitOptions {
  /** How long to wait for a terminal status; the latest state is returned when it runs out. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called whenever the run's status (or attempt) changes while waiting. */
  onChange?: (run: TaskRun) => void;
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
 * conditions a caller can act on.
 */
export interface WorkflowBackend {
  readonly kind: "local" | "render";
  /** One line for the start banner: what is served, from where. */
  describe(): string;
  listTasks(): Promise<TaskInfo[]>;
  startRun(task: string, input: TaskInput): Promise<TaskRun>;
  getRun(id: string): Promise<TaskRun>;
  listRuns(query: ListRunsQuery): Promise<RunPage>;
  cancelRun(id: string): Promise<CancelOutcome>;
  waitForRun(id: string, options: WaitOptions): Promise<TaskRun>;
  getRunLogs(id: string, query: LogsQuery): Promise<LogPage>;
  close(): Promise<void>;
}
