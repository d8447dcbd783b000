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

/** Longest preview of a result in a run's text line. */
const PREVIEW_CHARS = 200;

/**
 * The start of a value as JSON, without serialising all of it: a result may
 * be megabytes, and the line shows 200 characters of it.
 */
export function preview(value: unknown): string {
  const parts: string[] = [];
  let length = 0;
  const emit = (text: string) => {
    parts.push(text);
    length += text.length;
    return length > PREVIEW_CHARS;
  };
  // True once enough is written: the walk stops there.
  const walk = (item: unknown): boolean => {
    if (typeof item === "string") return emit(JSON.stringify(item.slice(0, PREVIEW_CHARS + 1)));
    if (Array.isArray(item)) {
      if (emit("[")) return true;
      for (const [i, element] of item.entries()) {
        if ((i > 0 && emit(",")) || walk(element === undefined ? null : element)) return true;
      }
      return emit("]");
    }
    if (typeof item === "object" && item !== null) {
      if (emit("{")) return true;
      let first = true;
      for (const [key, child] of Object.entries(item)) {
        if (child === undefined) continue;
        if ((!first && emit(",")) || emit(`${JSON.stringify(key.slice(0, PREVIEW_CHARS + 1))}:`))
          return true;
        first = false;
        if (walk(child)) return true;
      }
      return emit("}");
    }
    return emit(JSON.stringify(item) ?? "undefined");
  };
  walk(value);
  const text = parts.join("");
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}
