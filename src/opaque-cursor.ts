import { createHash } from "node:crypto";

/**
 * What every page cursor this server issues is made of: base64url JSON, and a
 * fingerprint of the query it was issued for. A cursor is opaque to clients
 * but not secret: whatever decodes it checks every field before use, and
 * nothing in one is trusted for access.
 */

/** Longer than any cursor the embedded engine or the store issues. */
export const SHORT_CURSOR_CHARS = 256;

export const encodeOpaque = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString("base64url");

/** The JSON a cursor carries, or undefined when it is longer than `maxChars` or not base64url JSON. */
export function decodeOpaque(cursor: string, maxChars?: number): unknown {
  if (maxChars !== undefined && cursor.length > maxChars) return undefined;
  try {
    return JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

/** A query's fingerprint: 22 base64url characters of the SHA-256 of its JSON (132 bits). */
export const fingerprint = (query: unknown): string =>
  createHash("sha256").update(JSON.stringify(query)).digest("base64url").slice(0, 22);
