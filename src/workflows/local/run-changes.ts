import { EventEmitter } from "node:events";
import type Database from "better-sqlite3";
import type { WaitOptions } from "../backend.js";
import { isTerminal, type TaskRun } from "../run.js";
import { getRun } from "./db/queries.js";

/**
 * Who waits on which run. Every state change is announced after it is
 * written, so a waiter's last announcement is the run's latest state:
 * answering never reads the database, which may be closing.
 */
export class RunChanges {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly closing = new AbortController();

  constructor(private readonly db: Database.Database) {}

  /** Tells a run's waiters its new state; reads it only when someone waits. */
  announce(runId: string): void {
    if (this.emitter.listenerCount(runId) === 0) return;
    const run = getRun(this.db, runId, { kind: "all" });
    if (run) this.emitter.emit(runId, run);
  }

  /** Resolves with the run once terminal, or its latest state when the time, the signal or the engine runs out. */
  wait(
    run: TaskRun,
    { timeoutMs, signal, onChange }: Omit<WaitOptions, "access">,
  ): Promise<TaskRun> {
    if (isTerminal(run.status) || signal?.aborted || this.closing.signal.aborted) {
      return Promise.resolve(run);
    }
    let latest = run;
    return new Promise((resolve) => {
      const finish = () => {
        this.emitter.off(run.id, listener);
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        this.closing.signal.removeEventListener("abort", finish);
        resolve(latest);
      };
      const listener = (changed: TaskRun) => {
        latest = changed;
        onChange?.(changed);
        if (isTerminal(changed.status)) finish();
      };
      this.emitter.on(run.id, listener);
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener("abort", finish, { once: true });
      this.closing.signal.addEventListener("abort", finish, { once: true });
    });
  }

  /** Answers every waiter with the latest state it heard. */
  close(): void {
    this.closing.abort();
    this.emitter.removeAllListeners();
  }
}
