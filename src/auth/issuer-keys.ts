import {
  type CryptoKey,
  createRemoteJWKSet,
  customFetch,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type RemoteJWKSet,
} from "jose";
import { errorMessage } from "../error-message.js";
import { NO_TELEMETRY, type TokenTelemetry } from "../telemetry/telemetry.js";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.js";
import { discoverJwksUri } from "./discovery.js";
import { KeysUnavailable } from "./errors.js";
import { fetchFailure } from "./fetch-failure.js";

/*
 * Finding and fetching the issuer's signing keys: `jwks_uri` discovery, then
 * the JWKS itself through jose's remote key set (which caches keys, honours
 * a cooldown before refetching for an unknown `kid`, times requests out and
 * shares one fetch between concurrent callers). Added here: a backoff after
 * failures, so an outage of the issuer costs it one request per backoff
 * period and not one per request we receive, and the bookkeeping behind the
 * verifier's health.
 */

/** The subset of pino's logger the key source uses; details of failures go here, never to clients. */
export interface KeysLogger {
  warn(record: Record<string, unknown>, message: string): void;
  info(record: Record<string, unknown>, message: string): void;
}

export interface IssuerKeysOptions {
  issuer: string;
  /** Known up front, or discovered from the issuer's metadata. */
  jwksUrl?: string;
  /** Per metadata or JWKS request. Default 5000. */
  timeoutMs?: number;
  /** How old a loaded key set may get before a refresh is started in the background. Default 10 min. */
  refreshIntervalMs?: number;
  backoff?: BackoffOptions;
  clock?: () => number;
  logger?: KeysLogger;
  /**
   * The settings an operator fixes when a fetch fails, named in the log: the
   * issuer's variable (AUTH_ISSUER) and, when the JWKS location is configured
   * rather than discovered, its own (AUTH_JWKS_URL). Absent for the
   * development server, which nobody configures.
   */
  settings?: { issuer: string; jwksUrl?: string };
  /** Each fetch of the metadata or the key set in a span. */
  telemetry?: TokenTelemetry;
}

/** What the health check reports, derived from the fetch history. */
export interface KeysStatus {
  /** A key set has been fetched successfully at least once. */
  loaded: boolean;
  /** The last fetch of the key set (or of the metadata) failed. */
  failing: boolean;
  /** Consecutive failures of the stage that is failing. */
  failures: number;
}

export interface IssuerKeys {
  /** A jose key resolver. Throws KeysUnavailable when keys cannot be had; jose's errors for a kid or alg no key matches. */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
  jwksUrl(): string | undefined;
  /** The JWKS location, discovering it when needed. Throws KeysUnavailable. */
  discover(): Promise<string>;
  /** Ensures a key set is loaded (fetching it when none is). Throws KeysUnavailable. */
  load(): Promise<void>;
  /** Fetches the key set now (unless backing off). Throws KeysUnavailable; cached keys stay in use. */
  refresh(): Promise<void>;
  /** Starts a background refresh when the loaded key set is older than the refresh interval. */
  refreshIfDue(): void;
  /** Milliseconds before the next fetch attempt is allowed by the backoff. */
  retryInMs(): number;
  status(): KeysStatus;
  /** The last fetch failure and the setting to check, while fetches fail (for the operator, never clients). */
  lastFailure(): string | undefined;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_REFRESH_INTERVAL_MS = 10 * 60_000;
/** Largest JWKS body accepted: a key set is a few kilobytes. */
const MAX_JWKS_BYTES = 1024 * 1024;

/**
 * The issuer's keys, behind a backoff. Keys once loaded are kept and used
 * through an outage: jose's own expiry is disabled (`cacheMaxAge: Infinity`)
 * and a refresh is started in the background every `refreshIntervalMs`
 * instead (stale-while-revalidate), so a failed refresh never fails a token
 * whose key is cached. A key the issuer withdrew stops being trusted at the
 * first successful refresh after that; an unknown `kid` triggers jose's
 * refetch (at most once per cooldown, here also at most once per backoff).
 */
export function createIssuerKeys(options: IssuerKeysOptions): IssuerKeys {
  const clock = options.clock ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const backoffOptions = options.backoff ?? DEFAULT_BACKOFF;
  const discoveryBackoff = new Backoff(backoffOptions, clock);
  const jwksBackoff = new Backoff(backoffOptions, clock);
  const logger = options.logger;
  const jwksSetting = options.jwksUrl ? options.settings?.jwksUrl : options.settings?.issuer;
  const telemetry = options.telemetry ?? NO_TELEMETRY.tokens;

  let jwksUrl = options.jwksUrl;
  let remote: RemoteJWKSet | undefined = jwksUrl ? remoteSet(jwksUrl) : undefined;
  let discovering: Promise<string> | undefined;
  let lastDiscoveryFailure: string | undefined;
  let lastJwksFailure: string | undefined;
  let loadedAt: number | undefined;

  function remoteSet(url: string): RemoteJWKSet {
    return createRemoteJWKSet(new URL(url), {
      timeoutDuration: timeoutMs,
      // Expiry is ours (refreshIfDue): jose would otherwise refetch in the request path
      // after 10 minutes and fail tokens whose key it holds when the issuer is down.
      cacheMaxAge: Number.POSITIVE_INFINITY,
      [customFetch]: fetchKeySet,
    });
  }

  /**
   * jose's fetch, behind the backoff: refuses at once while backing off, and
   * judges the answer (200, JSON, a JWK set, bounded) before jose sees it, so
   * success and failure are recorded where they happen.
   */
  async function fetchKeySet(
    url: string,
    init: { headers: Headers; method: "GET"; redirect: "manual"; signal: AbortSignal },
  ): Promise<Response> {
    const wait = jwksBackoff.remainingMs();
    if (wait > 0) {
      throw new KeysUnavailable(
        `JWKS ${url}: not retried for another ${wait} ms after ${jwksBackoff.failures} failure(s) (last: ${lastJwksFailure})`,
        wait / 1000,
      );
    }
    let body: string;
    try {
      body = await telemetry.fetch("keys", url, async () => {
        const res = await fetch(url, init);
        if (res.status !== 200) {
          await res.body?.cancel();
          throw new Error(`HTTP ${res.status}`);
        }
        const text = await readBounded(res, MAX_JWKS_BYTES);
        if (!isJwkSet(JSON.parse(text))) throw new Error("not a JWK set");
        return text;
      });
    } catch (error) {
      const reason =
        error instanceof Error && error.name === "TimeoutError"
          ? `timed out after ${timeoutMs} ms`
          : error instanceof SyntaxError
            ? "not JSON"
            : fetchFailure(error);
      lastJwksFailure = reason;
      jwksBackoff.fail();
      const retryIn = jwksBackoff.remainingMs();
      logger?.warn(
        {
          jwksUrl: url,
          reason,
          ...(jwksSetting ? { check: jwksSetting } : {}),
          failures: jwksBackoff.failures,
          retryInSeconds: tenths(retryIn),
          keysCached: loadedAt !== undefined,
        },
        "issuer JWKS fetch failed",
      );
      throw new KeysUnavailable(`JWKS ${url}: ${reason}`, retryIn / 1000);
    }
    if (jwksBackoff.failures > 0) {
      logger?.info({ jwksUrl: url, after: jwksBackoff.failures }, "issuer JWKS fetched again");
    }
    jwksBackoff.succeed();
    lastJwksFailure = undefined;
    loadedAt = clock();
    return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
  }

  async function discover(): Promise<string> {
    if (jwksUrl) return jwksUrl;
    if (discovering) return discovering;
    const wait = discoveryBackoff.remainingMs();
    if (wait > 0) {
      throw new KeysUnavailable(
        `metadata of ${options.issuer}: not retried for another ${wait} ms after ${discoveryBackoff.failures} failure(s) (last: ${lastDiscoveryFailure})`,
        wait / 1000,
      );
    }
    // One discovery in flight at a time; its failure is remembered for the backoff period.
    discovering = telemetry
      .fetch("metadata", options.issuer, () => discoverJwksUri(options.issuer, timeoutMs))
      .then(
        (url) => {
          discovering = undefined;
          discoveryBackoff.succeed();
          lastDiscoveryFailure = undefined;
          jwksUrl = url;
          remote = remoteSet(url);
          logger?.info({ issuer: options.issuer, jwksUrl: url }, "issuer metadata discovered");
          return url;
        },
        (error: unknown) => {
          discovering = undefined;
          lastDiscoveryFailure = errorMessage(error);
          discoveryBackoff.fail();
          const retryIn = discoveryBackoff.remainingMs();
          logger?.warn(
            {
              issuer: options.issuer,
              reason: lastDiscoveryFailure,
              ...(options.settings ? { check: options.settings.issuer } : {}),
              failures: discoveryBackoff.failures,
              retryInSeconds: tenths(retryIn),
            },
            "issuer metadata discovery failed",
          );
          throw new KeysUnavailable(lastDiscoveryFailure, retryIn / 1000);
        },
      );
    return discovering;
  }

  async function keySet(): Promise<RemoteJWKSet> {
    await discover();
    if (!remote) throw new KeysUnavailable("no JWKS URL after discovery");
    return remote;
  }

  function refreshIfDue(): void {
    if (!remote || loadedAt === undefined || remote.reloading) return;
    if (clock() - loadedAt < refreshIntervalMs || jwksBackoff.remainingMs() > 0) return;
    // Failures are recorded (and logged) by fetchKeySet; the cached keys stay in use.
    remote.reload().catch(() => {});
  }

  return {
    jwksUrl: () => jwksUrl,
    discover,
    async load() {
      const set = await keySet();
      if (set.jwks() === undefined) await asKeysUnavailable(set.reload());
    },
    async refresh() {
      await asKeysUnavailable((await keySet()).reload());
    },
    refreshIfDue,
    retryInMs: () => Math.max(discoveryBackoff.remainingMs(), jwksBackoff.remainingMs()),
    async getKey(header, token) {
      const set = await keySet();
      refreshIfDue();
      try {
        return await set(header, token);
      } catch (error) {
        // A kid or alg that matches no key is the token's problem; anything else is the issuer's.
        if (
          error instanceof errors.JWKSNoMatchingKey ||
          error instanceof errors.JWKSMultipleMatchingKeys
        ) {
          throw error;
        }
        throw toKeysUnavailable(error);
      }
    },
    lastFailure() {
      const failure =
        lastJwksFailure === undefined
          ? lastDiscoveryFailure
          : `JWKS ${jwksUrl}: ${lastJwksFailure}`;
      if (failure === undefined) return undefined;
      const setting = lastJwksFailure === undefined ? options.settings?.issuer : jwksSetting;
      return setting ? `${failure}; check ${setting}` : failure;
    },
    status() {
      const discoveryFailing = jwksUrl === undefined && discoveryBackoff.failures > 0;
      const failing = discoveryFailing || jwksBackoff.failures > 0;
      return {
        loaded: loadedAt !== undefined,
        failing,
        failures: discoveryFailing ? discoveryBackoff.failures : jwksBackoff.failures,
      };
    },
  };
}

async function asKeysUnavailable(promise: Promise<void>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    throw toKeysUnavailable(error);
  }
}

function toKeysUnavailable(error: unknown): KeysUnavailable {
  return error instanceof KeysUnavailable
    ? error
    : new KeysUnavailable(`issuer keys unusable: ${errorMessage(error)}`);
}

/** jose's own test for a JWK set: an object whose `keys` is an array of objects. */
function isJwkSet(value: unknown): boolean {
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(value)) return false;
  const keys = (value as { keys?: unknown }).keys;
  return Array.isArray(keys) && keys.every(isObject);
}

/** The body as text, refusing more than `limit` bytes (the issuer is trusted, its proxies maybe less). */
async function readBounded(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > limit) {
    await res.body?.cancel();
    throw new Error(`body of ${declared} bytes exceeds ${limit}`);
  }
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Milliseconds as seconds to a tenth: the time a failure took to log does not show as 0.999. */
const tenths = (ms: number) => Math.round(ms / 100) / 10;
