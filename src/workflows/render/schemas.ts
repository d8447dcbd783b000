import { z } from "zod";

/**
 * What this server reads from Render's API, after Render's OpenAPI documents
 * (Workflows and Workflow Tasks, beta), vendored in test/render/openapi where
 * the loopback fake is held to them. Unknown keys are stripped, not refused,
 * so additions on Render's side do not break us; enums are enforced only
 * where the value is acted on (run status).
 */

const timestamp = z.iso.datetime({ offset: true });

/** `{id?, message?}` on every error status. */
export const ErrorBody = z.object({ id: z.string().optional(), message: z.string().optional() });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** workflowWithCursor.workflow — only what identifies the workflow is used. */
export const Workflow = z.object({
  id: z.string(),
  name: z.string(),
  ownerId: z.string(),
  slug: z.string().optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Workflow = z.infer<typeof Workflow>;

export const WorkflowList = z.array(z.object({ workflow: Workflow, cursor: z.string() }));

/** taskWithCursor.task */
export const Task = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: timestamp,
  workflowId: z.string().optional(),
  workflowVersionId: z.string().optional(),
});
export type Task = z.infer<typeof Task>;

export const TaskList = z.array(z.object({ task: Task, cursor: z.string() }));

/** `completed` is the older name of `succeeded`; both are sent. */
export const RenderRunStatus = z.enum([
  "pending",
  "running",
  "completed",
  "succeeded",
  "failed",
  "canceled",
  "paused",
]);
export type RenderRunStatus = z.infer<typeof RenderRunStatus>;

const Input = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]);

const Attempt = z.object({
  status: RenderRunStatus,
  enqueuedAt: timestamp.optional(),
  startedAt: timestamp,
  completedAt: timestamp.optional(),
});

/** taskRunWithCursor.taskRun: list items carry no input, results or error. */
export const RenderRun = z.object({
  id: z.string(),
  taskId: z.string(),
  status: RenderRunStatus,
  startedAt: timestamp.optional(),
  completedAt: timestamp.optional(),
  parentTaskRunId: z.string(),
  rootTaskRunId: z.string(),
  retries: z.number().int(),
  attempts: z.array(Attempt),
});
export type RenderRun = z.infer<typeof RenderRun>;

export const RenderRunList = z.array(z.object({ taskRun: RenderRun, cursor: z.string() }));

/** GET /task-runs/{taskRunId}. Attempts' results are not read: the run's `results` has the value. */
export const RenderRunDetails = RenderRun.extend({
  results: z.array(z.unknown()),
  error: z.string().optional(),
  input: Input,
  attempts: z.array(Attempt.extend({ error: z.string().optional() })),
});
export type RenderRunDetails = z.infer<typeof RenderRunDetails>;

/**
 * The `data` of a /task-runs/events frame. Render documents it as run details
 * but its own example carries only some fields, so only what decides whether
 * to re-read the run is required.
 */
export const RunEvent = z.object({ id: z.string(), status: RenderRunStatus });

/**
 * GET /logs — not among the vendored documents; after Render's public Logs API
 * (`hasMore`, `nextStartTime`, `nextEndTime`, `logs[{id, message, timestamp, labels}]`).
 */
export const LogList = z.object({
  hasMore: z.boolean(),
  nextStartTime: timestamp.optional(),
  nextEndTime: timestamp.optional(),
  logs: z.array(
    z.object({
      id: z.string(),
      message: z.string(),
      timestamp,
      labels: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
    }),
  ),
});
export type LogList = z.infer<typeof LogList>;
