/** The words the engine records when it, not the task, ends an attempt or a run. */

const ordinal = (n: number) =>
  `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;

export const interrupted = (interruptions: number, maxInterruptions: number): string =>
  interruptions < maxInterruptions
    ? `interrupted: the server stopped while this attempt was running; it runs again, not counted as a retry (a run interrupted ${maxInterruptions} times fails)`
    : `interrupted: the server stopped while this attempt was running, for the ${ordinal(interruptions)} time; a run interrupted ${maxInterruptions} times fails`;

/** A subtask whose parent's attempt ended: nobody waits for its result any more. */
export const PARENT_ATTEMPT_ENDED =
  "canceled: the parent run's attempt ended before this subtask finished";

/** A subtask the server stopped under: its root runs again and starts its subtasks anew. */
export const SERVER_STOPPED =
  "canceled: the server stopped while this subtask's parent was running; the root run runs again and starts its subtasks anew";

export const timedOut = (seconds: number) => `timed out after ${seconds} s`;

export const noLongerDefined = (task: string) =>
  `task ${task} is no longer defined in the tasks module`;
