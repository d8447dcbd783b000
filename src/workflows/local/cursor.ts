import { decodeOpaque, encodeOpaque, SHORT_CURSOR_CHARS } from "../../opaque-cursor.js";
import { InvalidCursor } from "../errors.js";

/** An opaque page position: base64url JSON, checked on the way back in. */
export const encodeCursor = (position: Record<string, string | number>): string =>
  encodeOpaque(position);

export function decodeCursor<T extends Record<string, string | number>>(
  cursor: string,
  isValid: (value: Record<string, unknown>) => value is T,
): T {
  const value = decodeOpaque(cursor, SHORT_CURSOR_CHARS);
  if (typeof value === "object" && value !== null && isValid(value as Record<string, unknown>))
    return value as T;
  throw new InvalidCursor(
    "That cursor is not one this server issued for this listing; pass next_cursor from the previous page, or omit it to start over",
  );
}
