import { z } from "zod";

/**
 * The run shape every backend returns, in Render Workflows' own vocabulary
 * (see ../shared/render-api). Render's `completed` is reported as `succeeded`,
 * the name Render is moving to.
 */
export const TaskRunStatus = z.enum([
  "pending",
  "running",
  "succeeded",
  "failed",
  "canceled",
  "paused",
]);
export type TaskRunStatus = z.infer<typeof TaskRunStatus>;

const TERMINAL_STATUSES: readonly TaskRunStatus[] = ["succeeded", "failed", "canceled"];
export const isTerminal = (status: TaskRunStatus): boolean => TERMINAL_STATUSES.includes(status);

/** Render's limit on a run's arguments as JSON; the embedded engine keeps it too, so tasks behave alike. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

export const TaskRunAttempt = z.object({
  attempt: z
    .number()
    .int()
    .positive()
    .describe("1 for the first attempt, 2 for the first retry, …"),
  status: TaskRunStatus,
  enqueuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  error: z.string().optional(),
  results: z.array(z.unknown()).optional(),
});
export type TaskRunAttempt = z.infer<typeof TaskRunAttempt>;

/** Positional arguments (TypeScript tasks) or named parameters (Python tasks on Render). */
export const TaskInput = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]);
export type TaskInput = z.infer<typeof TaskInput>;

export const TaskRun = z.object({
  id: z.string(),
  task: z
    .string()
    .describe("The task's identifier: its name locally, `workflow-slug/task-name` on Render"),
  taskId: z.string().describe("The backend's id of the task definition"),
  status: TaskRunStatus,
  input: TaskInput.optional(),
  results: z
    .array(z.unknown())
    .optional()
    .describe(
      "The task's return value wrapped in an array, as Render reports it: results[0] is the value",
    ),
  error: z.string().optional(),
  retries: z.number().int().nonnegative(),
  attempts: z.array(TaskRunAttempt),
  parentTaskRunId: z
    .string()
    .optional()
    .describe("The run that started this one, for a subtask run"),
  rootTaskRunId: z.string().describe("The run at the top of the chain; equal to id for a root run"),
  createdAt: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
});
export type TaskRun = z.infer<typeof TaskRun>;

export const TaskInfo = z.object({
  name: z.string().describe("What to pass as `task` to start_task_run"),
  description: z.string().optional(),
  inputSchema: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "JSON Schema of `input` (an array of positional arguments), where the backend knows it",
    ),
  retry: z
    .object({
      maxRetries: z.number().int().nonnegative(),
      waitDurationMs: z.number().nonnegative(),
      backoffScaling: z.number().positive(),
    })
    .optional(),
  timeoutSeconds: z.number().positive().optional(),
});
export type TaskInfo = z.infer<typeof TaskInfo>;

export const LogLine = z.object({
  timestamp: z.string(),
  level: z.string().optional(),
  message: z.string(),
});
export type LogLine = z.infer<typeof LogLine>;
