import { z } from "zod";

/**
 * The run shape every backend returns, in Render Workflows' own vocabulary
 * (see test/render/openapi). Render's `completed` is reported as `succeeded`,
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
});
export type TaskRunAttempt = z.infer<typeof TaskRunAttempt>;

/** Longest error message a run or attempt carries; longer ones are cut, with an ellipsis. */
export const MAX_ERROR_CHARS = 2_000;

/** Who is asking, from a verified access token: the identity runs are bound to. */
export const Principal = z.object({
  issuer: z.string().describe("The authorization server that issued the caller's token"),
  subject: z.string().describe("The token's `sub`"),
});
export type Principal = z.infer<typeof Principal>;

/** A W3C trace id: 32 lowercase hex digits. */
export const TraceId = z.string().regex(/^[0-9a-f]{32}$/);

export const StartedBy = Principal.extend({
  clientId: z
    .string()
    .optional()
    .describe("The OAuth client the person used, where the token names one"),
  at: z.string().describe("When the run was started (ISO 8601)"),
  traceId: TraceId.optional().describe(
    "The OpenTelemetry trace id of the call that started the run, when the server exports traces: the conversation turn in the tracing backend",
  ),
}).describe(
  "Who started the run through this server, from their verified token. Absent for runs started elsewhere (other apps, the Render Dashboard, cron); a subtask run carries its root run's.",
);
export type StartedBy = z.infer<typeof StartedBy>;

/**
 * Any JSON value: task arguments and results are whatever the task takes and
 * returns, so this is deliberately open — but typed, not `{}`, in JSON Schema.
 * It arrived as JSON, so it is not walked again (a hostile, deeply nested
 * value costs nothing here).
 */
export const JsonValue = z.unknown().meta({
  type: ["string", "number", "boolean", "null", "array", "object"],
  description: "Any JSON value (deliberately open: whatever the task takes or returns)",
});

/** Most positional arguments or named parameters one run takes (the 4 MB bound applies too). */
export const MAX_TASK_ARGUMENTS = 1_000;

/** Positional arguments (TypeScript tasks) or named parameters (Python tasks on Render). */
export const TaskInput = z.union([
  z.array(JsonValue).max(MAX_TASK_ARGUMENTS),
  z
    .record(z.string().max(256), JsonValue)
    .refine((params) => Object.keys(params).length <= MAX_TASK_ARGUMENTS, {
      message: `at most ${MAX_TASK_ARGUMENTS} named parameters`,
    }),
]);
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
    .array(JsonValue)
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
  startedBy: StartedBy.optional(),
});
export type TaskRun = z.infer<typeof TaskRun>;

/**
 * A run as lists show it: no input and no results (get_task_run has them), so
 * a page of runs stays small whatever the runs carried.
 */
export const TaskRunSummary = TaskRun.omit({ input: true, results: true }).describe(
  "A run without its input and results; get_task_run shows the whole run",
);
export type TaskRunSummary = z.infer<typeof TaskRunSummary>;

export const toSummary = ({
  input: _input,
  results: _results,
  ...summary
}: TaskRun): TaskRunSummary => summary;

/** Cuts an error message to MAX_ERROR_CHARS. */
export const boundedError = (message: string): string =>
  message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 1)}…` : message;

export const TaskInfo = z.object({
  name: z.string().describe("What to pass as `task` to start_task_run"),
  description: z.string().optional(),
  inputSchema: z
    .record(z.string(), JsonValue)
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
