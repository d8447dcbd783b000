import { EventEmitter } from "node:events";
import type Database from "better-sqlite3";
import type { WaitOptions } from "../backend.js";
import type { TaskRun } from "../run.js";
import { waitUntilTerminal } from "../wait.js";
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
  wait(run: TaskRun, options: Omit<WaitOptions, "access">): Promise<TaskRun> {
    if (this.closing.signal.aborted) return Promise.resolve(run);
    return waitUntilTerminal(run, options, ({ onRun, onClose }) => {
      this.emitter.on(run.id, onRun);
      this.closing.signal.addEventListener("abort", onClose, { once: true });
      return () => {
        this.emitter.off(run.id, onRun);
        this.closing.signal.removeEventListener("abort", onClose);
      };
    });
  }

  /** Answers every waiter with the latest state it heard. */
  close(): void {
    this.closing.abort();
    this.emitter.removeAllListeners();
  }
}
