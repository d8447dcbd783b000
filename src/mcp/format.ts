import type { Approval } from "../approvals/approval.js";
import { approveScopeFor } from "../auth/policy.js";
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

/** One line about an approval request: what happens next, and who acts. */
export function describeApproval(approval: Approval): string {
  const run = `a run of ${approval.task} asked for by ${approval.requestedBy.subject}`;
  switch (approval.status) {
    case "pending":
      return approval.mode === "self"
        ? `Approval request ${approval.id}: ${run} waits for ${approval.requestedBy.subject} to confirm it in a browser, signed in as themselves, at ${approval.url} (until ${approval.expiresAt}); nothing runs until then`
        : `Approval request ${approval.id}: ${run} waits for approval by a holder of ${approveScopeFor(approval.task)} (or workflows:approve), someone other than ${approval.requestedBy.subject}, at ${approval.url} or with decide_approval_request (until ${approval.expiresAt}); nothing runs until then`;
    case "approved":
      return approval.runId
        ? `Approval request ${approval.id}: approved by ${approval.decidedBy?.subject ?? "a person"}; run ${approval.runId} started`
        : `Approval request ${approval.id}: approved by ${approval.decidedBy?.subject ?? "a person"}; its run is starting`;
    case "denied":
      return `Approval request ${approval.id}: denied by ${approval.decidedBy?.subject ?? "a person"}${approval.reason ? ` (${approval.reason})` : ""}; nothing ran`;
    case "expired":
      return `Approval request ${approval.id}: expired undecided at ${approval.expiresAt}; nothing ran`;
    case "canceled":
      return `Approval request ${approval.id}: withdrawn by ${approval.requestedBy.subject}; nothing ran`;
  }
}
