import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from "jose";
import { TokenRejected } from "./errors.js";
import { isScopeToken } from "./scopes.js";

/*
 * What is decided about a token without its issuer's keys: its shape, its
 * header (`alg`, `typ`) and its claims. Each check can only refuse a token;
 * why they may run before the signature is told at createJwtVerifier. Last,
 * jose's verification errors as the same refusals (rejectionOf), so a client
 * hears one reason whichever side found the fault.
 */

/** Longer than any header a Node server accepts (16 KiB in all): refused before any parsing. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_IDENTIFIER_LENGTH = 255;
/** Control characters (C0, DEL, C1): no identifier we log or show may carry them. */
const CONTROL = /\p{Cc}/u;
const MAX_SCOPES = 256;

/**
 * Shape and header, before anything else. Refusing a header `alg` that is not
 * allowed is safe without the key: it is refused after verification anyway,
 * and this way `none` and `HS256` never reach a key lookup.
 */
export function inspectHeader(
  token: string,
  algorithms: ReadonlySet<string>,
  requireAtJwt: boolean,
): ProtectedHeaderParameters {
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    throw new TokenRejected("ERR_TOKEN_MALFORMED", "token is malformed");
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenRejected("ERR_TOKEN_MALFORMED", "token is malformed");
  }
  if (typeof header.alg !== "string" || !algorithms.has(header.alg)) {
    throw new TokenRejected(
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "token signing algorithm is not allowed",
    );
  }
  if (header.b64 === false) throw new TokenRejected("ERR_TOKEN_MALFORMED", "token is malformed");
  checkType(header.typ, requireAtJwt);
  return header;
}

/**
 * `typ` (RFC 7515 §4.1.9: a media type, `application/` optional, compared
 * case-insensitively). RFC 9068 access tokens say `at+jwt`; many issuers
 * (Auth0, Descope, Entra, Keycloak) say `JWT`, and Okta's custom servers send
 * none, so those are accepted by default. Every other value is refused: an
 * explicit type other than the generic `JWT` declares some other kind of JWT
 * (RFC 8725 §3.11) — a DPoP proof (`dpop+jwt`), a logout token
 * (`logout+jwt`), a security event (`secevent+jwt`), a request object
 * (`oauth-authz-req+jwt`), an introspection response
 * (`token-introspection+jwt`), a client attestation, an SD-JWT key binding
 * (`kb+jwt`), Okta's org-server tokens (`application/okta-internal-at+jwt`,
 * not meant for third parties) — which an issuer may sign with the same key.
 * An allowlist also refuses kinds defined later. ID tokens cannot be told
 * apart by `typ` (they say `JWT` or nothing): their audience (the client, not
 * this resource) refuses them. `requireAtJwt` accepts `at+jwt` only.
 */
function checkType(typ: unknown, requireAtJwt: boolean): void {
  const normalized =
    typeof typ === "string" ? typ.toLowerCase().replace(/^application\//, "") : undefined;
  if (requireAtJwt) {
    if (normalized !== "at+jwt") {
      throw new TokenRejected("ERR_TOKEN_TYPE_NOT_ALLOWED", "token type (typ) must be at+jwt");
    }
    return;
  }
  if (typ === undefined || normalized === "jwt" || normalized === "at+jwt") return;
  throw new TokenRejected(
    "ERR_TOKEN_TYPE_NOT_ALLOWED",
    "token type (typ) is not an access token type",
  );
}

export function decodePayload(token: string): JWTPayload {
  try {
    return decodeJwt(token);
  } catch {
    throw new TokenRejected("ERR_TOKEN_MALFORMED", "token is malformed");
  }
}

export interface ClaimPolicy {
  issuer: string;
  audiences: readonly string[];
  scopeClaim: string | undefined;
  maxLifetime: number;
  maxAge: number;
  tolerance: number;
}

interface Claims {
  subject: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  resource?: string;
}

/**
 * Every claim check, in the order a client most needs to hear about:
 * issuer, audience, the time claims, then the claims the server reads.
 * Run twice: on the unverified payload (refusals without keys) and on the
 * verified one (to build what is returned).
 */
export function readClaims(payload: JWTPayload, policy: ClaimPolicy, now: number): Claims {
  if (payload.iss !== policy.issuer) {
    throw new TokenRejected(
      "ERR_TOKEN_ISSUER_NOT_TRUSTED",
      "token issuer is not trusted by this server",
      "iss",
    );
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const resource = audiences.find(
    (aud): aud is string => typeof aud === "string" && policy.audiences.includes(aud),
  );
  if (resource === undefined) {
    throw new TokenRejected(
      "ERR_TOKEN_AUDIENCE_MISMATCH",
      "token audience is not this resource",
      "aud",
    );
  }
  const exp = numericDate(payload, "exp", true) as number;
  const nbf = numericDate(payload, "nbf", false);
  const iat = numericDate(payload, "iat", false);
  const { tolerance } = policy;
  if (exp <= now - tolerance) throw new TokenRejected("ERR_TOKEN_EXPIRED", "token expired", "exp");
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new TokenRejected("ERR_TOKEN_NOT_YET_VALID", "token is not yet valid", "nbf");
  }
  if (iat !== undefined && iat > now + tolerance) {
    throw new TokenRejected(
      "ERR_TOKEN_ISSUED_IN_FUTURE",
      "token issued-at time is in the future",
      "iat",
    );
  }
  if (iat !== undefined && now - iat > policy.maxAge + tolerance) {
    throw new TokenRejected("ERR_TOKEN_TOO_OLD", "token was issued too long ago", "iat");
  }
  if (exp - (iat ?? now) > policy.maxLifetime) {
    throw new TokenRejected(
      "ERR_TOKEN_LIFETIME_TOO_LONG",
      "token lifetime is longer than this server accepts",
      "exp",
    );
  }
  const subject = identifier(payload.sub);
  if (subject === undefined) {
    throw new TokenRejected(
      "ERR_TOKEN_CLAIM_INVALID",
      `token subject (sub) must be a non-empty string of at most ${MAX_IDENTIFIER_LENGTH} characters`,
      "sub",
    );
  }
  return {
    subject,
    // The first well-formed one; a claim of another shape is ignored, never stringified.
    clientId:
      identifier(payload.client_id) ?? identifier(payload.azp) ?? identifier(payload.cid) ?? "",
    scopes: scopesOf(payload, policy.scopeClaim),
    expiresAt: exp,
    // Only a URL is a resource indicator (some issuers put an API identifier in `aud`).
    ...(URL.canParse(resource) ? { resource } : {}),
  };
}

function numericDate(payload: JWTPayload, claim: string, required: boolean): number | undefined {
  const value = payload[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TokenRejected(
      "ERR_TOKEN_CLAIM_INVALID",
      `token claim ${claim} is missing or invalid`,
      claim,
    );
  }
  return value;
}

/** A non-empty string of bounded length without control characters, or undefined. */
function identifier(value: unknown): string | undefined {
  return typeof value === "string" &&
    value.length > 0 &&
    value.length <= MAX_IDENTIFIER_LENGTH &&
    !CONTROL.test(value)
    ? value
    : undefined;
}

/**
 * Scopes from `scope` (space-separated), `scp` (array or string) and the
 * configured claim. Entries that cannot be a scope this server gives meaning
 * to (not a string, not an RFC 6749 scope-token, over 200 characters) are
 * ignored; more than 256 entries refuse the token, rather than keep an
 * arbitrary subset of them.
 */
function scopesOf(payload: JWTPayload, extraClaim: string | undefined): string[] {
  const claims = [payload.scope, payload.scp, extraClaim ? payload[extraClaim] : undefined];
  const entries = claims.flatMap((claim): unknown[] => {
    if (typeof claim === "string") return claim.split(" ");
    if (Array.isArray(claim)) return claim;
    return [];
  });
  if (entries.length > MAX_SCOPES) {
    throw new TokenRejected(
      "ERR_TOKEN_CLAIM_INVALID",
      `token carries more than ${MAX_SCOPES} scopes`,
      extraClaim && Array.isArray(payload[extraClaim]) ? extraClaim : "scope",
    );
  }
  const scopes = entries.filter((s): s is string => typeof s === "string" && isScopeToken(s));
  return [...new Set(scopes)];
}

/** jose's verification errors, as the token's fault. (Key fetch failures never get here.) */
export function rejectionOf(error: errors.JOSEError | TokenRejected): TokenRejected {
  if (error instanceof TokenRejected) return error;
  if (error instanceof errors.JWTExpired)
    return new TokenRejected("ERR_TOKEN_EXPIRED", "token expired", "exp");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return new TokenRejected(
          "ERR_TOKEN_ISSUER_NOT_TRUSTED",
          "token issuer is not trusted by this server",
          "iss",
        );
      case "aud":
        return new TokenRejected(
          "ERR_TOKEN_AUDIENCE_MISMATCH",
          "token audience is not this resource",
          "aud",
        );
      case "nbf":
        return new TokenRejected("ERR_TOKEN_NOT_YET_VALID", "token is not yet valid", "nbf");
      default:
        return new TokenRejected(
          "ERR_TOKEN_CLAIM_INVALID",
          `token claim ${error.claim} is missing or invalid`,
          error.claim,
        );
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new TokenRejected(
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "token signing algorithm is not allowed",
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenRejected("ERR_TOKEN_SIGNATURE_INVALID", "token signature is invalid");
  }
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new TokenRejected("ERR_TOKEN_UNKNOWN_KEY", "token key id matches no key of the issuer");
  }
  return new TokenRejected("ERR_TOKEN_MALFORMED", "token is malformed");
}
