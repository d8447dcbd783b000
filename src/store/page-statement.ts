import type { SqlValue, Statement } from "../db/sql.js";
import type { Position } from "./cursor.js";

/** A time as SQLite (ISO text) or pg (Date, for timestamptz) returns it, as ISO 8601 UTC. */
export const iso = (value: string | Date): string => new Date(value).toISOString();

export interface PageQuery {
  /** Columns to read; `seq` and the time column are added. */
  columns: string;
  from: string;
  /** The column pages are ordered by, newest first (then by `seq`). */
  time: string;
  /** Conditions, each with its value (or values, in order); an undefined value leaves the condition out. */
  where: readonly (readonly [sql: string, value: SqlValue | readonly SqlValue[] | undefined])[];
  after?: Position;
  /** Rows to read: one more than the page holds, to know whether another page follows. */
  limit: number;
}

/** A keyset page, newest first: filters and position in the query, so pages stay full. */
export function pageStatement(query: PageQuery): Statement {
  const conditions: string[] = [];
  const values: SqlValue[] = [];
  for (const [sql, value] of query.where) {
    if (value === undefined) continue;
    conditions.push(sql);
    if (Array.isArray(value)) values.push(...value);
    else values.push(value as SqlValue);
  }
  if (query.after) {
    conditions.push(`(${query.time}, seq) < (?, ?)`);
    values.push(query.after.at, query.after.seq);
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
  return {
    text: `SELECT ${query.columns}, ${query.time}, seq FROM ${query.from}${where} ORDER BY ${query.time} DESC, seq DESC LIMIT ?`,
    values: [...values, query.limit],
  };
}
