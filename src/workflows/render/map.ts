import { boundedError, type StartedBy, type TaskRun, type TaskRunStatus } from "../run.js";
import type { RenderRun, RenderRunDetails, RenderRunStatus } from "./schemas.js";

/** Render reports `completed` and `succeeded` for the same thing; `paused` is not terminal. */
export function runStatus(status: RenderRunStatus): TaskRunStatus {
  return status === "completed" ? "succeeded" : status;
}

/**
 * A Render run (details, or a list item without input/results/error) in our
 * vocabulary. `task` is `workflow-slug/task-name`, resolved by the caller, as
 * is `startedBy` (Render's runs carry no owner: this server's record does).
 * Attempts carry no results (the run's `results` has the value), and errors
 * are bounded, so a run's size is its input and results only.
 */
export function toTaskRun(
  run: RenderRun | RenderRunDetails,
  task: string,
  startedBy?: StartedBy,
): TaskRun {
  const details = "input" in run ? run : undefined;
  return {
    id: run.id,
    task,
    taskId: run.taskId,
    status: runStatus(run.status),
    input: details?.input,
    results: details?.results,
    error: details?.error ? boundedError(details.error) : undefined,
    retries: run.retries,
    attempts: run.attempts.map((attempt, index) => ({
      attempt: index + 1,
      status: runStatus(attempt.status),
      enqueuedAt: attempt.enqueuedAt,
      startedAt: attempt.startedAt,
      completedAt: attempt.completedAt,
      error: "error" in attempt && attempt.error ? boundedError(attempt.error) : undefined,
    })),
    parentTaskRunId: run.parentTaskRunId || undefined,
    // A root run names itself; an empty value is read the same way.
    rootTaskRunId: run.rootTaskRunId || run.id,
    startedAt: run.startedAt,
    completedAt: run.completedAt,
    startedBy,
  };
}
