/**
 * The two ways verifying an access token can fail, kept apart because they
 * call for opposite client behaviour: a rejected token is the token's fault
 * (401 `invalid_token`: get another one), unavailable keys are not (503 with
 * `Retry-After`: keep the token and retry). Nothing else is thrown by the
 * verifier for a token it was given.
 */

/** Why a token was refused; stable, for logs, metrics and tests. */
export type TokenRejectionCode =
  /** Not a compact JWS JWT (wrong shape, not base64url JSON, JWE, too large). */
  | "malformed"
  /** The header's `typ` declares some other kind of JWT (or not `at+jwt` when that is required). */
  | "type_not_allowed"
  /** `alg` missing, `none`, symmetric, or not in the configured list. */
  | "algorithm_not_allowed"
  | "issuer_not_trusted"
  | "audience_mismatch"
  | "expired"
  | "not_yet_valid"
  /** `iat` later than now (beyond the clock tolerance). */
  | "issued_in_future"
  /** `iat` older than the maximum token age. */
  | "too_old"
  /** `exp − iat` (or `exp − now` without `iat`) longer than the maximum lifetime. */
  | "lifetime_too_long"
  /** A required claim is missing or has the wrong shape (`claim` names it). */
  | "claim_invalid"
  | "signature_invalid"
  /** No key of the issuer's JWKS matches the header's `kid`/`alg`. */
  | "unknown_key";

/**
 * The token is not acceptable. `description` is short, safe to send to the
 * client as `error_description` (it never echoes token content), and is also
 * the error's message.
 */
export class TokenRejected extends Error {
  override readonly name = "TokenRejected";
  readonly code: TokenRejectionCode;
  readonly description: string;
  /** The offending claim, for `claim_invalid` and the time checks. */
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
  readonly code = "keys_unavailable";
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
