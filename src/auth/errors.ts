import type { TokenRejectionCode } from "../error-codes.js";

/**
 * The two ways verifying an access token can fail, kept apart because they
 * call for opposite client behaviour: a rejected token is the token's fault
 * (401 `invalid_token`: get another one), unavailable keys are not (503 with
 * `Retry-After`: keep the token and retry). Nothing else is thrown by the
 * verifier for a token it was given.
 */

/**
 * The token is not acceptable. `description` is short, safe to send to the
 * client as `error_description` (it never echoes token content), and is also
 * the error's message.
 */
export class TokenRejected extends Error {
  override readonly name = "TokenRejected";
  readonly code: TokenRejectionCode;
  readonly description: string;
  /** The offending claim, for ERR_TOKEN_CLAIM_INVALID and the time checks. */
  readonly claim?: string;

  constructor(code: TokenRejectionCode, description: string, claim?: string) {
    super(description);
    this.code = code;
    this.description = description;
    if (claim !== undefined) this.claim = claim;
  }
}

/** What a client is told when the keys are unavailable: nothing about where they live. */
export const KEYS_UNAVAILABLE_MESSAGE = "The authorization server is unavailable; try again later";

/**
 * The issuer's keys cannot be had right now (metadata or JWKS unreachable,
 * failing, too slow or serving something that is not a key set), so the
 * token cannot be judged. `message` is public and fixed; `detail` says what
 * failed (URLs, HTTP statuses, errors) and is for the log only.
 */
export class KeysUnavailable extends Error {
  override readonly name = "KeysUnavailable";
  /** Internal: which URL failed and how. Log it; never send it to a client. */
  readonly detail: string;
  /** When a retry may succeed: the time left before the next fetch is attempted, at least 1 s. */
  readonly retryAfterSeconds: number;

  constructor(detail: string, retryAfterSeconds = 1) {
    super(KEYS_UNAVAILABLE_MESSAGE);
    this.detail = detail;
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}
