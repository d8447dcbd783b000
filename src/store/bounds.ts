import { createHash } from "node:crypto";
import { z } from "zod";
import { InvalidInput } from "../workflows/errors.js";

/**
 * Bounds on what the store keeps and hands out. Whatever a token or a backend
 * says, a row stays small and a page stays short.
 */

/** Ids and names: run ids, task names, issuers, subjects, client ids, tools, outcomes. */
export const MAX_ID_CHARS = 512;
/** Free text: an audit event's reason. */
export const MAX_TEXT_CHARS = 1024;
/** Most items one page holds; a larger limit is lowered to it. */
export const MAX_PAGE_SIZE = 100;

const ELLIPSIS = "…";
/** base64url of a SHA-256 digest. */
const DIGEST_CHARS = 43;

/**
 * An id or name within MAX_ID_CHARS. A longer one keeps its beginning and ends
 * with "…" and a digest of the whole value, so two different long values never
 * become one: a cut subject must not make two people one owner. The same value
 * always bounds the same way, so lookups and filters find what was stored.
 */
export function boundId(value: string): string {
  const clean = withoutNul(value);
  if (clean.length <= MAX_ID_CHARS) return clean;
  const digest = createHash("sha256").update(clean).digest("base64url");
  return `${cut(clean, MAX_ID_CHARS - 1 - DIGEST_CHARS)}${ELLIPSIS}${digest}`;
}

/** Free text within MAX_TEXT_CHARS, cut with an ellipsis. */
export function boundText(value: string): string {
  const clean = withoutNul(value);
  return clean.length <= MAX_TEXT_CHARS ? clean : `${cut(clean, MAX_TEXT_CHARS - 1)}${ELLIPSIS}`;
}

/** PostgreSQL text cannot hold NUL; both stores replace it, so they keep the same value. */
function withoutNul(value: string): string {
  return value.includes("\0") ? value.replaceAll("\0", "\uFFFD") : value;
}

/** The first `length` UTF-16 units, without splitting a surrogate pair. */
function cut(value: string, length: number): string {
  const code = value.charCodeAt(length - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

/**
 * A page size: a whole number of at least 1, lowered to MAX_PAGE_SIZE. Tools
 * check their own limits first; this is the store's own line.
 */
export function pageSize(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new InvalidInput(`limit: must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return Math.min(limit, MAX_PAGE_SIZE);
}

const IsoDateTime = z.iso.datetime({ offset: true });

/**
 * An ISO 8601 date-time (with `Z` or an offset) as UTC with milliseconds,
 * `2026-01-02T03:04:05.678Z`: one spelling per instant, so comparing the
 * strings (SQLite) orders them as PostgreSQL's timestamptz does.
 */
export function instant(value: string, field: string): string {
  const date = value.length <= 64 && IsoDateTime.safeParse(value).success ? new Date(value) : null;
  // Years 1 to 9999 in UTC: four digits, so the strings sort, and PostgreSQL has no year 0.
  const year = date?.getUTCFullYear() ?? Number.NaN;
  if (!(year >= 1 && year <= 9999)) {
    throw new InvalidInput(
      `${field}: must be an ISO 8601 date-time with a time zone (years 1–9999), e.g. 2026-01-02T03:04:05Z`,
    );
  }
  return (date as Date).toISOString();
}
