import { z } from "zod";
import { decodeOpaque, encodeOpaque } from "../../opaque-cursor.js";
import { listQueryDigest } from "../access.js";
import type { ListRunsQuery } from "../backend.js";
import { InvalidCursor } from "../errors.js";
import { OwnedRunsCursor } from "../owners/owned-runs.js";

/**
 * Opaque page cursors: base64url JSON carrying where the next page starts
 * (Render's own cursor, a position among the caller's own runs, or a log
 * window) and, for lists, a digest of what the page was asked for — filters
 * and whose runs — so a cursor is only honoured for the query and the caller
 * it was issued to. Nothing in them is trusted for authorization: the
 * workflow filter comes from the server's configuration and the owner from
 * the caller's token, so a forged cursor can only point elsewhere in what
 * the caller may see anyway.
 */

/** Every run of the workflow (`:all` access), paged by Render's cursor. */
const RunsCursor = z.object({
  kind: z.literal("runs"),
  /** Render's cursor of the last item already looked at. */
  after: z.string().min(1),
  query: z.string(),
});

/** Every run (RunsCursor), or the caller's own runs, paged through the ownership store. */
const ListCursor = z.discriminatedUnion("kind", [RunsCursor, OwnedRunsCursor]);
type ListCursor = z.infer<typeof ListCursor>;

export const LogsCursor = z.object({
  kind: z.literal("logs"),
  run: z.string().min(1),
  startTime: z.string().min(1),
  endTime: z.string().min(1).optional(),
});
export type LogsCursor = z.infer<typeof LogsCursor>;

export const encodeCursor = (cursor: ListCursor | LogsCursor): string => encodeOpaque(cursor);

/** Render's own cursors have no published bound: this one is the tool input's (4096 characters). */
export function decodeCursor<T>(schema: z.ZodType<T>, cursor: string): T {
  const parsed = schema.safeParse(decodeOpaque(cursor));
  if (!parsed.success) {
    throw new InvalidCursor(
      "That cursor was not issued by this server for this kind of list; pass next_cursor exactly as returned, or omit it to start over",
    );
  }
  return parsed.data;
}

/** The list cursor given with `query`, refused when it was issued for another query or caller. */
export function listCursorFor(
  query: Pick<ListRunsQuery, "task" | "status" | "access" | "cursor">,
): ListCursor | undefined {
  if (!query.cursor) return undefined;
  const cursor = decodeCursor(ListCursor, query.cursor);
  if (cursor.query !== listQueryDigest(query)) {
    throw new InvalidCursor(
      "That cursor was issued for a different task or status filter, or to another caller; repeat the same filters, or omit cursor to start over",
    );
  }
  return cursor;
}
