import { z } from "zod";
import { InvalidCursor } from "../errors.js";

/**
 * Opaque page cursors: base64url JSON carrying Render's own cursor (or log
 * window) and what the page was asked for, so a cursor is only honoured for
 * the query that issued it. Nothing in them is trusted for authorization:
 * the workflow filter always comes from the server's configuration.
 */

export const RunsCursor = z.object({
  kind: z.literal("runs"),
  /** Render's cursor of the last item already looked at. */
  after: z.string().min(1),
  /** The query's task and statuses, as given. */
  query: z.string(),
});
export type RunsCursor = z.infer<typeof RunsCursor>;

export const LogsCursor = z.object({
  kind: z.literal("logs"),
  run: z.string().min(1),
  startTime: z.string().min(1),
  endTime: z.string().min(1).optional(),
});
export type LogsCursor = z.infer<typeof LogsCursor>;

export function encodeCursor(cursor: RunsCursor | LogsCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

export function decodeCursor<T>(schema: z.ZodType<T>, cursor: string): T {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidCursor(
      "That cursor was not issued by this server for this kind of list; pass next_cursor exactly as returned, or omit it to start over",
    );
  }
  return parsed.data;
}
