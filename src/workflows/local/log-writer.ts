import type Database from "better-sqlite3";
import type { LogLine } from "../run.js";
import { appendLogs } from "./transitions/append-logs.js";

/**
 * Log lines written a tick at a time, in one transaction, so a chatty task
 * costs the event loop one write per tick rather than one per line. The
 * engine flushes before it records an attempt's end: a finished run's logs
 * are all there.
 */
export class LogWriter {
  private pending: { runId: string; line: LogLine }[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly db: Database.Database) {}

  add(runId: string, line: LogLine): void {
    this.pending.push({ runId, line });
    this.scheduled ??= setImmediate(() => this.flush());
  }

  flush(): void {
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const lines = this.pending;
    this.pending = [];
    appendLogs(this.db, lines);
  }

  /** Writes what is pending; later lines are dropped (the database is closing). */
  close(): void {
    this.flush();
    this.add = () => {};
  }
}
