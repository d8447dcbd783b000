import type { TaskRun } from "../workflows/run.js";

/** One line about a run, for the text content beside structuredContent. */
export function describeRun(run: TaskRun): string {
  const attempts = run.attempts.length > 1 ? ` after ${run.attempts.length} attempts` : "";
  const lineage = run.parentTaskRunId ? ` (subtask of ${run.parentTaskRunId})` : "";
  switch (run.status) {
    case "succeeded":
      return run.results
        ? `Run ${run.id} of ${run.task} succeeded${attempts}${lineage}: ${preview(run.results[0])}`
        : `Run ${run.id} of ${run.task} succeeded${attempts}${lineage}; its result is not in this answer (too large to send now): read it with get_task_run`;
    case "failed":
      return `Run ${run.id} of ${run.task} failed${attempts}${lineage}: ${run.error ?? "no error message"}`;
    default:
      return `Run ${run.id} of ${run.task} is ${run.status}${lineage}`;
  }
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
