import type { z } from "zod";
import type { SqlDatabase, Statement } from "../db/sql.js";
import type { Logger } from "../logger.js";
import { InvalidInput } from "../workflows/errors.js";
import { pageSize } from "./bounds.js";
import { decodeCursor, encodeCursor, type Position } from "./cursor.js";
import { StoreUnavailable } from "./errors.js";

/**
 * Running the store's statements on either database: a transient failure
 * becomes StoreUnavailable (its cause logged), anything else is a bug and is
 * rethrown; and keyset pages, newest first, with opaque cursors.
 */
export class SqlQueries {
  constructor(
    private readonly db: SqlDatabase,
    private readonly kind: string,
    private readonly logger: Logger,
  ) {}

  all<T>(statement: Statement): Promise<T[]> {
    return this.db.all<T>(statement).catch((error) => this.failed(error));
  }

  run(statement: Statement): Promise<void> {
    return this.db.run(statement).catch((error) => this.failed(error));
  }

  /** One page of at most `limit` rows, and a cursor when more follow. */
  async page<Row>(
    key: string,
    query: { limit: number; cursor?: string },
    statement: (after: Position | undefined, limit: number) => Statement,
    position: (row: Row) => Position,
  ): Promise<{ rows: Row[]; nextCursor?: string }> {
    const limit = pageSize(query.limit);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, key);
    // One row more than the page holds says whether another page follows.
    const rows = await this.all<Row>(statement(after, limit + 1));
    if (rows.length <= limit) return { rows };
    const page = rows.slice(0, limit);
    return { rows: page, nextCursor: encodeCursor(key, position(page[limit - 1] as Row)) };
  }

  private failed(error: unknown): never {
    if (!this.db.transient(error)) throw error;
    this.logger.warn({ err: error, store: this.kind }, "store unavailable");
    throw new StoreUnavailable({ cause: error });
  }
}

/** The bounded value, or undefined (a filter left out). */
export function optional(
  value: string | undefined,
  bound: (v: string) => string,
): string | undefined {
  return value === undefined ? undefined : bound(value);
}

/** The value as the schema reads it, or InvalidInput naming what is wrong. */
export function valid<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InvalidInput(`${what}: ${issue?.path.join(".") || "value"}: ${issue?.message}`);
}
