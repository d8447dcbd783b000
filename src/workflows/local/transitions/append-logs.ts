import type Database from "better-sqlite3";
import type { LogLine } from "../../run.js";
import { statement } from "../db/statement.js";

/** Log lines, already bounded, in one transaction. */
export function appendLogs(db: Database.Database, lines: { runId: string; line: LogLine }[]): void {
  if (lines.length === 0) return;
  db.transaction(() => {
    const insert = statement(
      db,
      "INSERT INTO logs (run_id, timestamp, level, message) VALUES (?, ?, ?, ?)",
    );
    for (const { runId, line } of lines) {
      insert.run(runId, line.timestamp, line.level ?? "info", line.message);
    }
  })();
}
