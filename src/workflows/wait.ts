import type { WaitOptions } from "./backend.js";
import { isTerminal, type TaskRun } from "./run.js";

/** What a waiter hears about a run while it follows it. */
export interface RunWatcher {
  /** The run as last read or announced. */
  onRun(run: TaskRun): void;
  /** Reading the run failed: following it has stopped. */
  onError(error: unknown): void;
  /** The server is shutting down: following has stopped. */
  onClose(): void;
}

/** Starts following a run for `watcher`; returns how to stop. */
export type FollowRun = (watcher: RunWatcher) => () => void;

/**
 * Waits for a run (already read, and visible to the caller) to reach a
 * terminal status, whichever backend tells of its changes: resolves with the
 * latest state heard when it is terminal, when time runs out, when `signal`
 * aborts or when following stops (the server is shutting down); rejects when
 * the run can no longer be read.
 */
export function waitUntilTerminal(
  run: TaskRun,
  options: Pick<WaitOptions, "timeoutMs" | "signal" | "onChange">,
  follow: FollowRun,
): Promise<TaskRun> {
  if (isTerminal(run.status) || options.timeoutMs <= 0 || options.signal?.aborted) {
    return Promise.resolve(run);
  }
  return new Promise((resolve, reject) => {
    let latest = run;
    let done = false;
    let unfollow = () => {};
    const finish = (failure?: { error: unknown }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      unfollow();
      if (failure) reject(failure.error);
      else resolve(latest);
    };
    const onAbort = () => finish();
    const timer = setTimeout(onAbort, options.timeoutMs);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    unfollow = follow({
      onRun(next) {
        latest = next;
        options.onChange?.(next);
        if (isTerminal(next.status)) finish();
      },
      onError: (error) => finish({ error }),
      onClose: onAbort,
    });
    // Following may have ended the wait before it returned its stop.
    if (done) unfollow();
  });
}
