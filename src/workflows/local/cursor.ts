import { InvalidCursor } from "../errors.js";

/** Longer than any cursor this server issues: refused before it is decoded. */
const MAX_CURSOR_CHARS = 256;

/** An opaque page position: base64url JSON, checked on the way back in. */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

export function decodeCursor<T extends Record<string, string | number>>(
  cursor: string,
  isValid: (value: Record<string, unknown>) => value is T,
): T {
  let value: unknown;
  try {
    if (cursor.length <= MAX_CURSOR_CHARS) {
      value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    }
  } catch {
    value = undefined;
  }
  if (typeof value === "object" && value !== null && isValid(value as Record<string, unknown>))
    return value as T;
  throw new InvalidCursor(
    "That cursor is not one this server issued for this listing; pass next_cursor from the previous page, or omit it to start over",
  );
}
