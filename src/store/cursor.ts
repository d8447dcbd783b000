import { z } from "zod";
import { decodeOpaque, encodeOpaque, fingerprint, SHORT_CURSOR_CHARS } from "../opaque-cursor.js";
import { InvalidCursor } from "../workflows/errors.js";

/**
 * Opaque page cursors for keyset pagination, newest first: the position of
 * the last item served, as (time, seq), and a fingerprint of the query that
 * served it. A cursor is honoured only by the same query (same listing, same
 * owner, same filters); the page size may change between pages.
 *
 * Nothing in a cursor is trusted for access: the owner and the filters always
 * come from the request, and a forged position only moves within what that
 * request may see anyway. So cursors need no key, and any instance honours
 * any other's.
 */

/** Where the previous page ended: the last item's time and sequence number. */
export interface Position {
  at: string;
  seq: number;
}

const Cursor = z.object({
  /** Fingerprint of the query. */
  q: z.string().length(22),
  at: z.iso.datetime(),
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

/** A query's fingerprint: its listing and normalized filters, hashed. */
export const queryKey = (listing: string, filters: readonly (string | undefined)[]): string =>
  fingerprint([listing, ...filters.map((f) => f ?? null)]);

export const encodeCursor = (query: string, position: Position): string =>
  encodeOpaque({ q: query, ...position });

/** The position a cursor holds, if the same query issued it; InvalidCursor otherwise. */
export function decodeCursor(cursor: string, query: string): Position {
  const parsed = Cursor.safeParse(decodeOpaque(cursor, SHORT_CURSOR_CHARS));
  if (!parsed.success) {
    throw new InvalidCursor(
      "That cursor is not one this server issued; pass next_cursor exactly as returned, or omit it to start over",
    );
  }
  if (parsed.data.q !== query) {
    throw new InvalidCursor(
      "That cursor belongs to a query with other filters; repeat the filters of the page it came from, or omit it to start over",
    );
  }
  // One spelling per instant, as stored (see instant()).
  return { at: new Date(parsed.data.at).toISOString(), seq: parsed.data.seq };
}
