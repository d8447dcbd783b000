import type { WaitOptions } from "../backend.js";
import type { TaskRun } from "../run.js";
import { waitUntilTerminal } from "../wait.js";
import type { RunFollowers } from "./followers.js";

/**
 * Waits for a run as one more waiter on the instance's follower of that run
 * (see waitUntilTerminal). A follower reports every check, changed or not;
 * `onChange` hears only the checks that changed something.
 */
export function waitForRun(
  run: TaskRun,
  options: Pick<WaitOptions, "timeoutMs" | "signal" | "onChange">,
  followers: RunFollowers,
): Promise<TaskRun> {
  const report = options.onChange;
  let reported = fingerprint(run);
  const onChange =
    report &&
    ((next: TaskRun) => {
      const now = fingerprint(next);
      if (now === reported) return;
      reported = now;
      report(next);
    });
  return waitUntilTerminal(run, { ...options, onChange }, (watcher) =>
    followers.follow(run, watcher),
  );
}

/** What counts as a change worth reporting: the status, and each attempt's. */
function fingerprint(run: TaskRun): string {
  return [run.status, ...run.attempts.map((a) => a.status)].join(",");
}
