import type { LogPage, LogsQuery } from "../backend.js";
import { InvalidCursor, InvalidInput } from "../errors.js";
import type { LogLine, TaskRun } from "../run.js";
import { decodeCursor, encodeCursor, LogsCursor } from "./cursor.js";
import type { RenderHttp } from "./http.js";
import { LogList } from "./schemas.js";

const PAGE_LIMIT = 100;
const MAX_PAGES = 10;
const MARGIN_MS = 60_000;
/** Render keeps logs for at most 30 days and refuses windows reaching further back. */
const RETENTION_MS = 30 * 24 * 3600_000;

/**
 * A run's log lines, oldest first, from GET /logs filtered to the workflow
 * and the run; Render pages by time window (`nextStartTime`/`nextEndTime`
 * while `hasMore`), which the cursor carries.
 */
export async function fetchRunLogs(
  http: RenderHttp,
  scope: { ownerId: string; workflowId: string },
  run: TaskRun,
  query: LogsQuery,
): Promise<LogPage> {
  let window = query.cursor ? fromCursor(query.cursor, run.id) : defaultWindow(run, query);
  const lines: LogLine[] = [];
  for (let page = 0; page < MAX_PAGES && lines.length < query.limit; page++) {
    const result = await http.request("GET", "/logs", {
      query: {
        ownerId: scope.ownerId,
        resource: [scope.workflowId],
        taskRun: [run.id],
        startTime: window.startTime,
        endTime: window.endTime,
        direction: "forward",
        limit: Math.min(PAGE_LIMIT, query.limit - lines.length),
      },
      schema: LogList,
    });
    lines.push(
      ...result.logs.map((log) => ({
        timestamp: log.timestamp,
        level: log.labels?.find((label) => label.name === "level")?.value,
        message: log.message,
      })),
    );
    if (!result.hasMore || !result.nextStartTime) return { lines: oldestFirst(lines) };
    window = { startTime: result.nextStartTime, endTime: result.nextEndTime ?? window.endTime };
  }
  return {
    lines: oldestFirst(lines),
    nextCursor: encodeCursor({ kind: "logs", run: run.id, ...window }),
  };
}

interface Window {
  startTime: string;
  /** Absent: up to Render's now (its clock, not ours). */
  endTime?: string;
}

function fromCursor(cursor: string, runId: string): Window {
  const decoded = decodeCursor(LogsCursor, cursor);
  if (decoded.run !== runId) {
    throw new InvalidCursor(`That cursor belongs to the logs of run ${decoded.run}, not ${runId}`);
  }
  return { startTime: decoded.startTime, endTime: decoded.endTime };
}

/** From just before the run was first enqueued to just after it finished (or up to now). */
function defaultWindow(run: TaskRun, query: LogsQuery): Window {
  const now = Date.now();
  const first = [run.attempts[0]?.enqueuedAt, run.attempts[0]?.startedAt, run.startedAt]
    .filter((t): t is string => t !== undefined)
    .map(Date.parse);
  const start = first.length > 0 ? Math.min(...first) - MARGIN_MS : now - 3600_000;
  const startTime = query.startTime ?? iso(Math.max(start, now - RETENTION_MS + MARGIN_MS));
  const endTime =
    query.endTime ??
    (run.completedAt ? iso(Math.min(Date.parse(run.completedAt) + MARGIN_MS, now)) : undefined);
  if (endTime && Date.parse(startTime) >= Date.parse(endTime)) {
    throw new InvalidInput(`start_time (${startTime}) must be before end_time (${endTime})`);
  }
  return { startTime, endTime };
}

const iso = (ms: number) => new Date(ms).toISOString();

function oldestFirst(lines: LogLine[]): LogLine[] {
  return lines.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
}
