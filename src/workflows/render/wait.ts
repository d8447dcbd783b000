import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../logger.js";
import type { WaitOptions } from "../backend.js";
import { isTerminal, type TaskRun } from "../run.js";
import type { RunEventHandlers } from "./events.js";

export interface WaitDeps {
  getRun(id: string): Promise<TaskRun>;
  followEvents(id: string, signal: AbortSignal, handlers: RunEventHandlers): Promise<void>;
  logger: Logger;
}

const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5_000;
/** While the stream is open, a GET this often bounds the cost of a missed or stalled event. */
const STREAM_CHECK_MS = 10_000;

/**
 * Waits for a run to reach a terminal status: driven by Render's event
 * stream, every event confirmed with a GET (an attempt can fail while the run
 * goes on to retry), and by polling with backoff once the stream fails or
 * ends. Resolves with the latest state when time runs out or `signal` aborts.
 */
export async function waitForRun(
  id: string,
  options: WaitOptions,
  deps: WaitDeps,
): Promise<TaskRun> {
  let latest = await deps.getRun(id);
  if (isTerminal(latest.status) || options.timeoutMs <= 0) return latest;

  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), options.timeoutMs);
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  let failure: unknown;
  const observe = (run: TaskRun) => {
    const changed = fingerprint(run) !== fingerprint(latest);
    latest = run;
    if (changed) options.onChange?.(run);
    if (isTerminal(run.status)) stop.abort();
  };
  // GETs run one at a time, in event order.
  let refreshing = Promise.resolve();
  const refresh = () => {
    refreshing = refreshing.then(async () => {
      if (stop.signal.aborted) return;
      try {
        observe(await deps.getRun(id));
      } catch (error) {
        failure = error;
        stop.abort();
      }
    });
  };

  const check = setInterval(refresh, STREAM_CHECK_MS);
  try {
    try {
      await deps.followEvents(id, stop.signal, {
        // Whatever happened before the stream was established is caught up with.
        onOpen: refresh,
        onEvent: refresh,
      });
      if (!stop.signal.aborted) deps.logger.info({ run: id }, "Render event stream ended; polling");
    } catch (error) {
      if (!stop.signal.aborted) {
        deps.logger.info({ run: id, reason: String(error) }, "Render event stream failed; polling");
      }
    }
    clearInterval(check);
    await refreshing;
    for (
      let interval = POLL_FIRST_MS;
      !stop.signal.aborted;
      interval = Math.min(interval * 1.5, POLL_MAX_MS)
    ) {
      await sleep(interval, undefined, { signal: stop.signal }).catch(() => {});
      refresh();
      await refreshing;
    }
    if (failure) throw failure;
    return latest;
  } finally {
    clearInterval(check);
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    stop.abort();
  }
}

/** What counts as a change worth reporting: the status, and each attempt's. */
function fingerprint(run: TaskRun): string {
  return [run.status, ...run.attempts.map((a) => a.status)].join(",");
}
