import type { AuthInfo, OAuthTokenVerifier } from "@modelcontextprotocol/server";
import { errors, type JWTPayload, jwtVerify } from "jose";
import { NO_TELEMETRY, type TokenTelemetry } from "../telemetry/telemetry.js";
import { isAsymmetricAlgorithm } from "./algorithms.js";
import type { BackoffOptions } from "./backoff.js";
import { KeysUnavailable, TokenRejected } from "./errors.js";
import { createIssuerKeys, type KeysLogger } from "./issuer-keys.js";
import { TokenCache } from "./token-cache.js";
import {
  type ClaimPolicy,
  decodePayload,
  inspectHeader,
  readClaims,
  rejectionOf,
} from "./token-checks.js";

export interface VerifierOptions {
  issuer: string;
  /** Known up front, or discovered from the issuer's metadata on first use. */
  jwksUrl?: string;
  audiences: string[];
  /** Asymmetric JWS algorithms only: anything else is refused here, at construction. */
  algorithms: string[];
  /** Another claim holding scopes, read in addition to `scope` and `scp`. */
  scopeClaim?: string;
  /** Longest accepted `exp − iat` (or `exp − now` without `iat`). Default 86400 (Auth0's default lifetime). */
  maxTokenLifetimeSeconds?: number;
  /** Oldest accepted `iat`, when present. Default 86400. */
  maxTokenAgeSeconds?: number;
  /** Accept only `typ: at+jwt` (RFC 9068) instead of also `JWT` and no `typ`. Default false. */
  requireAtJwt?: boolean;
  /** Allowed clock skew for `exp`, `nbf` and `iat`. Default 5. */
  clockToleranceSeconds?: number;
  /** The verified-token cache; `false` turns it off. */
  cache?: false | { maxEntries?: number; maxTtlSeconds?: number };
  /** Fetching the issuer's metadata and keys. */
  keys?: { timeoutMs?: number; refreshIntervalMs?: number; backoff?: BackoffOptions };
  /** Where fetch failures and recoveries are logged (with URLs and reasons). */
  logger?: KeysLogger;
  /** The variables that configure the issuer, named when its keys cannot be fetched. */
  settings?: { issuer: string; jwksUrl?: string };
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /** The issuer's metadata and keys fetched in spans. */
  telemetry?: TokenTelemetry;
}

export interface VerifierHealth {
  /** True once the issuer's keys have been fetched successfully, and from then on. */
  ready: boolean;
  /** `degraded`: keys are cached but the last refresh failed; tokens are still verified. */
  state: "starting" | "unavailable" | "ready" | "degraded";
  /** One public-safe line (no URLs, no error text: those are in the log). */
  detail: string;
}

export interface JwtVerifier extends OAuthTokenVerifier {
  /**
   * Resolves with the token's AuthInfo; rejects with TokenRejected or
   * KeysUnavailable only. `observe` hears whether the verified-token cache answered.
   */
  verifyAccessToken(token: string, observe?: (cache: "hit" | "miss") => void): Promise<AuthInfo>;
  /** The JWKS location, once known. */
  jwksUrl(): string | undefined;
  /** Resolves the JWKS location now; rejects with KeysUnavailable (`detail` says why). */
  discover(): Promise<string>;
  /**
   * Fetches metadata and keys in the background, retrying with the backoff,
   * until keys are loaded; the promise resolves then (or when closed). Never rejects.
   */
  warmUp(): Promise<void>;
  health(): VerifierHealth;
  /** Why the issuer's keys last failed to load and what to check, while they fail (operator only). */
  lastFailure(): string | undefined;
  /**
   * Fetches the issuer's JWKS now (subject to the failure backoff) instead of
   * at the next refresh interval, e.g. after a known key rotation. Rejects
   * with KeysUnavailable; the keys already held stay in use either way.
   */
  refreshKeys(): Promise<void>;
  /** Stops warm-up retries (the only timers this verifier owns). */
  close(): void;
}

/** Defaults for the options above. */
export const VERIFIER_DEFAULTS = {
  maxTokenLifetimeSeconds: 86_400,
  maxTokenAgeSeconds: 86_400,
  clockToleranceSeconds: 5,
  cacheMaxEntries: 10_000,
  cacheMaxTtlSeconds: 300,
} as const;

/** Tokens whose signature failed are remembered this long, so a replayed bad token costs no verification. */
const REJECTION_TTL_MS = 60_000;
const REJECTION_CACHE_ENTRIES = 1_000;

/** What is cached for a verified token: its AuthInfo without the token itself. */
type Verified = Omit<AuthInfo, "token" | "resource"> & { resource?: string };

/**
 * Verifies JWT access tokens against the issuer's JWKS: signature with an
 * allowed asymmetric algorithm, issuer, audience (RFC 8707), expiry,
 * not-before, issued-at, token age and lifetime, `typ`, and the shape of the
 * claims the server relies on (`sub`, client id, scopes).
 *
 * What is decided without keys. Every check that needs no key runs first, on
 * the decoded but unverified token: shape, header (`alg`, `typ`) and claims.
 * Each of these can only *refuse* a token, never let one through (a token is
 * accepted only after its signature verifies, and its AuthInfo is built from
 * the verified payload), and its outcome does not depend on whether the token
 * is genuine: if the token is genuine its claims are what the issuer said, so
 * the refusal is right; if it is forged it must be refused anyway, only the
 * reason given differs. So a token that is malformed, not an access token,
 * signed with a refused algorithm, for another issuer or audience, expired or
 * badly shaped gets `401 invalid_token` even while the issuer's keys are
 * unavailable; only a token that passes all of them and then needs a key we
 * cannot get is answered with KeysUnavailable (503): it may well be valid.
 *
 * Caching and revocation. A verified token is cached (by SHA-256 digest,
 * bounded LRU) until its `exp` and for at most `cache.maxTtlSeconds`, so its
 * signature is checked once, not on every request. This changes nothing
 * about revocation: JWT access tokens are not revocable at this server (it
 * never introspects them), so a token stays valid until `exp` with or without
 * the cache; the cap only bounds how long a key the issuer withdrew keeps
 * vouching for tokens already seen. Tokens whose signature failed are cached
 * as rejected for 60 s in a separate, smaller LRU (so a flood of distinct bad
 * tokens cannot evict good ones); rejections that can change with time or
 * keys (not yet valid, unknown key id, keys unavailable) are never cached.
 */
export function createJwtVerifier(options: VerifierOptions): JwtVerifier {
  const refused = options.algorithms.filter((alg) => !isAsymmetricAlgorithm(alg));
  if (refused.length > 0 || options.algorithms.length === 0) {
    throw new TypeError(
      `only asymmetric JWS algorithms can be allowed (refused: ${refused.join(", ") || "an empty list"})`,
    );
  }
  const clock = options.clock ?? Date.now;
  const telemetry = options.telemetry ?? NO_TELEMETRY.tokens;
  const policy: ClaimPolicy = {
    issuer: options.issuer,
    audiences: options.audiences,
    scopeClaim: options.scopeClaim,
    maxLifetime: options.maxTokenLifetimeSeconds ?? VERIFIER_DEFAULTS.maxTokenLifetimeSeconds,
    maxAge: options.maxTokenAgeSeconds ?? VERIFIER_DEFAULTS.maxTokenAgeSeconds,
    tolerance: options.clockToleranceSeconds ?? VERIFIER_DEFAULTS.clockToleranceSeconds,
  };
  const algorithms = new Set(options.algorithms);
  const keys = createIssuerKeys({
    issuer: options.issuer,
    jwksUrl: options.jwksUrl,
    timeoutMs: options.keys?.timeoutMs,
    refreshIntervalMs: options.keys?.refreshIntervalMs,
    backoff: options.keys?.backoff,
    logger: options.logger,
    ...(options.settings ? { settings: options.settings } : {}),
    clock,
    telemetry,
  });
  const verified =
    options.cache === false
      ? undefined
      : new TokenCache<Verified>({
          maxEntries: options.cache?.maxEntries ?? VERIFIER_DEFAULTS.cacheMaxEntries,
          maxTtlMs: (options.cache?.maxTtlSeconds ?? VERIFIER_DEFAULTS.cacheMaxTtlSeconds) * 1000,
          clock,
        });
  const rejected =
    options.cache === false
      ? undefined
      : new TokenCache<TokenRejected>({
          maxEntries: REJECTION_CACHE_ENTRIES,
          maxTtlMs: REJECTION_TTL_MS,
          clock,
        });

  let warming: Promise<void> | undefined;
  let closed = false;
  let wakeUp: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function verifyAccessToken(
    token: string,
    observe?: (cache: "hit" | "miss") => void,
  ): Promise<AuthInfo> {
    const hit = verified?.get(token);
    if (hit) {
      observe?.("hit");
      return fromCache(token, hit);
    }
    const known = rejected?.get(token);
    if (known) throw known;

    const now = Math.floor(clock() / 1000);
    // 1. Everything that needs no key (see above): refusals only.
    const header = inspectHeader(token, algorithms, options.requireAtJwt === true);
    readClaims(decodePayload(token), policy, now);

    // 2. The signature, with a key from the issuer's JWKS.
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys.getKey, {
        issuer: options.issuer,
        audience: options.audiences,
        algorithms: [header.alg as string],
        requiredClaims: ["exp", "sub"],
        clockTolerance: policy.tolerance,
        currentDate: new Date(now * 1000),
      }));
    } catch (error) {
      if (error instanceof KeysUnavailable) throw error;
      if (!(error instanceof TokenRejected || error instanceof errors.JOSEError)) {
        // Not jose judging the token: a fault of ours or the platform's, not the client's.
        throw new KeysUnavailable(`token verification failed unexpectedly: ${String(error)}`);
      }
      const rejection = rejectionOf(error);
      if (rejection.code === "ERR_TOKEN_SIGNATURE_INVALID") {
        rejected?.set(token, rejection, Number.POSITIVE_INFINITY);
      }
      throw rejection;
    }

    // 3. What the server relies on, from the verified payload only.
    const claims = readClaims(payload, policy, now);
    const info: Verified = {
      clientId: claims.clientId,
      scopes: claims.scopes,
      expiresAt: claims.expiresAt,
      ...(claims.resource ? { resource: claims.resource } : {}),
      // Read by the tools' caller context and the request log.
      extra: { subject: claims.subject, issuer: options.issuer },
    };
    verified?.set(token, info, claims.expiresAt * 1000);
    observe?.("miss");
    return fromCache(token, info);
  }

  async function warmUp(): Promise<void> {
    warming ??= (async () => {
      while (!closed) {
        try {
          await keys.load();
          return;
        } catch {
          // Logged by the key source; wait out the backoff, then try again.
          await new Promise<void>((resolve) => {
            wakeUp = resolve;
            timer = setTimeout(resolve, Math.max(keys.retryInMs(), 10));
            timer.unref();
          });
        }
      }
    })();
    return warming;
  }

  return {
    verifyAccessToken,
    jwksUrl: keys.jwksUrl,
    discover: keys.discover,
    warmUp,
    refreshKeys: keys.refresh,
    lastFailure: keys.lastFailure,
    health() {
      keys.refreshIfDue();
      const status = keys.status();
      if (!status.loaded) {
        return status.failing
          ? {
              ready: false,
              state: "unavailable",
              detail: `the authorization server's keys could not be fetched (${status.failures} attempt(s) failed)`,
            }
          : {
              ready: false,
              state: "starting",
              detail: "the authorization server's keys are not loaded yet",
            };
      }
      if (status.failing) {
        return {
          ready: true,
          state: "degraded",
          detail: `degraded: the authorization server's keys could not be refreshed (${status.failures} attempt(s) failed); cached keys are in use`,
        };
      }
      return { ready: true, state: "ready", detail: "the authorization server's keys are loaded" };
    },
    close() {
      closed = true;
      clearTimeout(timer);
      wakeUp?.();
    },
  };
}

/** A fresh AuthInfo per request: callers (the SDK among them) may add to the object. */
function fromCache(token: string, info: Verified): AuthInfo {
  return {
    token,
    clientId: info.clientId,
    scopes: [...info.scopes],
    ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    ...(info.resource ? { resource: new URL(info.resource) } : {}),
    ...(info.extra ? { extra: { ...info.extra } } : {}),
  };
}
