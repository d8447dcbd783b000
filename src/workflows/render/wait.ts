import type { WaitOptions } from "../backend.js";
import { isTerminal, type TaskRun } from "../run.js";
import type { RunFollowers } from "./followers.js";

/**
 * Waits for a run (already read, and visible to the caller) to reach a
 * terminal status, as one more waiter on the instance's follower of that run.
 * Resolves with the latest state when time runs out, `signal` aborts or the
 * server shuts down; rejects when the run can no longer be read.
 */
export function waitForRun(
  run: TaskRun,
  options: Pick<WaitOptions, "timeoutMs" | "signal" | "onChange">,
  followers: RunFollowers,
): Promise<TaskRun> {
  if (isTerminal(run.status) || options.timeoutMs <= 0 || options.signal?.aborted) {
    return Promise.resolve(run);
  }
  return new Promise((resolve, reject) => {
    let latest = run;
    let done = false;
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
    const unfollow = followers.follow(run, {
      onRun(next) {
        const changed = fingerprint(next) !== fingerprint(latest);
        latest = next;
        if (changed) options.onChange?.(next);
        if (isTerminal(next.status)) finish();
      },
      onError: (error) => finish({ error }),
      onClose: onAbort,
    });
  });
}

/** What counts as a change worth reporting: the status, and each attempt's. */
function fingerprint(run: TaskRun): string {
  return [run.status, ...run.attempts.map((a) => a.status)].join(",");
}
