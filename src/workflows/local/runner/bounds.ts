import type { LogLine } from "../../run.js";
import { MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_ATTEMPT, MAX_RESULT_BYTES } from "../limits.js";

export const boundLine = (message: string): string =>
  message.length > MAX_LOG_LINE_CHARS ? `${message.slice(0, MAX_LOG_LINE_CHARS - 1)}…` : message;

/**
 * What one attempt may log: MAX_LOG_LINES_PER_ATTEMPT lines of at most
 * MAX_LOG_LINE_CHARS, then one line saying the rest were dropped.
 */
export class LogBudget {
  private kept = 0;

  constructor(private readonly attempt: number) {}

  /** The lines to keep for this one: itself (bounded), the notice, or none. */
  accept(line: LogLine): LogLine[] {
    this.kept++;
    if (this.kept <= MAX_LOG_LINES_PER_ATTEMPT)
      return [{ ...line, message: boundLine(line.message) }];
    if (this.kept > MAX_LOG_LINES_PER_ATTEMPT + 1) return [];
    return [
      {
        timestamp: line.timestamp,
        level: "warn",
        message: `further log lines of attempt ${this.attempt} were dropped (at most ${MAX_LOG_LINES_PER_ATTEMPT} lines are kept per attempt)`,
      },
    ];
  }
}

export const resultTooLarge = (bytes: number): string =>
  `the task's result is ${bytes} bytes as JSON, over the ${MAX_RESULT_BYTES}-byte limit; return a reference (a URL or id) instead`;
