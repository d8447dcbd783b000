import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * The form's CSRF token: an HMAC of the sign-in (its session id) and the
 * request the form decides, so a token is good for one person's sign-in and
 * one request only, and a page of another site can neither read nor forge it.
 */
export const csrfToken = (key: Uint8Array, sessionId: string, approvalId: string): string =>
  createHmac("sha256", key).update(`${sessionId}\n${approvalId}`).digest("base64url");

export function csrfValid(
  key: Uint8Array,
  sessionId: string,
  approvalId: string,
  given: unknown,
): boolean {
  if (typeof given !== "string" || given.length > 128) return false;
  const expected = Buffer.from(csrfToken(key, sessionId, approvalId));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Whether a browser says the form was sent from the page's own origin. Its
 * `Sec-Fetch-Site`, where sent, must be `same-origin`; its `Origin`, where
 * sent, must be ours — or `null`, which is what a browser sends for the
 * page's own form under its `Referrer-Policy: no-referrer` (then
 * `Sec-Fetch-Site` and the token decide). Neither header (a client that is
 * not a browser) leaves the decision to the token.
 */
export function sameOrigin(headers: IncomingHttpHeaders, origin: string): boolean {
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return false;
  const from = headers.origin;
  return from === undefined || from === "null" || from.toLowerCase() === origin.toLowerCase();
}
