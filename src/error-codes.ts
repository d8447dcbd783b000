/**
 * Every error code this server gives out, each documented here only. One
 * scheme: `ERR_` and upper-case words. Stable: clients, log pipelines and
 * tests match on them.
 */

export type ErrorCode =
  // A tool error's `_meta["workflows-mcp/error"].code`, a Tasks method's JSON-RPC error
  // `data.code`, and the `reason` of the audit event of a call that failed:

  /** The tool's arguments do not match its input schema. */
  | "ERR_INVALID_ARGUMENTS"
  /** No such task in what the backend serves. */
  | "ERR_UNKNOWN_TASK"
  /** The task (or the backend) refused the input or another argument. */
  | "ERR_INVALID_INPUT"
  /** The input is over 4 MB as JSON. */
  | "ERR_INPUT_TOO_LARGE"
  /** No such run, or none the caller may see: the two answer alike. */
  | "ERR_RUN_NOT_FOUND"
  /** Only a root run can be cancelled (Render cancels whole run trees). */
  | "ERR_NOT_ROOT_RUN"
  /** A cursor this server did not issue, or issued for other filters or another caller. */
  | "ERR_INVALID_CURSOR"
  /** A bound on runs, storage, answers or the backend's rate: retryable, with `retryAfterSeconds`. */
  | "ERR_LIMIT_REACHED"
  /** The backend refused the server's own credentials or the action (Render 401/403). */
  | "ERR_BACKEND_FORBIDDEN"
  /** The backend could not be reached or kept failing: retryable. */
  | "ERR_BACKEND_UNAVAILABLE"
  /** The server's database failed while serving the call: retryable. */
  | "ERR_STORE_UNAVAILABLE"
  /** A bug on our side: the log has the details, the client none. */
  | "ERR_INTERNAL"
  /** No such approval request, or none the caller may see: the two answer alike. */
  | "ERR_APPROVAL_NOT_FOUND"
  /** The caller may not make this decision: its own request where another person decides, a request its owner confirms in a browser, or withdrawing someone else's. */
  | "ERR_DECISION_NOT_ALLOWED"
  /** The request was decided otherwise already, withdrawn, or expired: decisions are final. */
  | "ERR_ALREADY_DECIDED"

  // Why an access token was refused: the `reason` of the audit event and of the request's log
  // line. Clients never see these: their 401 says why in words (`error_description`).

  /** Not a compact JWS JWT (wrong shape, not base64url JSON, JWE, too large), or not `Bearer <token>`. */
  | "ERR_TOKEN_MALFORMED"
  /** The header's `typ` declares some other kind of JWT (or not `at+jwt` when that is required). */
  | "ERR_TOKEN_TYPE_NOT_ALLOWED"
  /** `alg` missing, `none`, symmetric, or not in the configured list. */
  | "ERR_TOKEN_ALGORITHM_NOT_ALLOWED"
  /** `iss` is not the configured issuer. */
  | "ERR_TOKEN_ISSUER_NOT_TRUSTED"
  /** No `aud` is this resource (or one of AUTH_AUDIENCE). */
  | "ERR_TOKEN_AUDIENCE_MISMATCH"
  /** `exp` has passed (beyond the clock tolerance). */
  | "ERR_TOKEN_EXPIRED"
  /** `nbf` is still ahead (beyond the clock tolerance). */
  | "ERR_TOKEN_NOT_YET_VALID"
  /** `iat` later than now (beyond the clock tolerance). */
  | "ERR_TOKEN_ISSUED_IN_FUTURE"
  /** `iat` older than the maximum token age. */
  | "ERR_TOKEN_TOO_OLD"
  /** `exp − iat` (or `exp − now` without `iat`) longer than the maximum lifetime. */
  | "ERR_TOKEN_LIFETIME_TOO_LONG"
  /** A required claim is missing or has the wrong shape (the rejection's `claim` names it). */
  | "ERR_TOKEN_CLAIM_INVALID"
  | "ERR_TOKEN_SIGNATURE_INVALID"
  /** No key of the issuer's JWKS matches the header's `kid`/`alg`. */
  | "ERR_TOKEN_UNKNOWN_KEY"

  // Why the server cannot start with its database: the `code` of the error whose one-line
  // message names the variable to fix (DATABASE_URL or LOCAL_DB_PATH).

  /** DATABASE_URL is not a PostgreSQL URL. */
  | "ERR_STORE_STARTUP"
  /** The database cannot be reached or opened. */
  | "ERR_STORE_UNREACHABLE"
  /** A migration failed; it was rolled back with every other one of that start. */
  | "ERR_MIGRATION_FAILED"
  /** The database carries a schema version this server does not know: a newer one migrated it. */
  | "ERR_SCHEMA_TOO_NEW";

/** The codes of a refused access token. */
export type TokenRejectionCode = Extract<ErrorCode, `ERR_TOKEN_${string}`>;
