import {
  InvalidTokenError,
  TemporarilyUnavailableError,
} from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { OAuthTokenVerifier } from "@modelcontextprotocol/sdk/server/auth/provider.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import { discoverJwksUri } from "./discovery.js";

export interface VerifierOptions {
  issuer: string;
  /** Known up front, or discovered from the issuer's metadata on first use. */
  jwksUrl?: string;
  audiences: string[];
  algorithms: string[];
  /** Another claim holding scopes, read in addition to `scope` and `scp`. */
  scopeClaim?: string;
}

export interface JwtVerifier extends OAuthTokenVerifier {
  /** The JWKS location, once known. */
  jwksUrl(): string | undefined;
  /** Resolves the JWKS location now; rejects with the reason when it cannot. */
  discover(): Promise<string>;
}

/**
 * Verifies JWT access tokens against the issuer's JWKS: signature with an
 * allowed asymmetric algorithm, issuer, audience (RFC 8707), expiry and
 * not-before. Rejections are InvalidTokenError with a short reason for
 * `error_description`; an unreachable JWKS is TemporarilyUnavailableError.
 */
export function createJwtVerifier(options: VerifierOptions): JwtVerifier {
  let jwksUrl = options.jwksUrl;
  let keys = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl)) : undefined;
  let discovering: Promise<string> | undefined;

  async function discover(): Promise<string> {
    if (jwksUrl) return jwksUrl;
    // One discovery in flight at a time; a failure is forgotten so the next request retries.
    discovering ??= discoverJwksUri(options.issuer).then(
      (url) => {
        jwksUrl = url;
        keys = createRemoteJWKSet(new URL(url));
        return url;
      },
      (error: unknown) => {
        discovering = undefined;
        throw error;
      },
    );
    return discovering;
  }

  return {
    jwksUrl: () => jwksUrl,
    discover,
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      try {
        await discover();
      } catch (error) {
        throw new TemporarilyUnavailableError(errorMessage(error));
      }
      if (!keys) throw new TemporarilyUnavailableError("no JWKS");
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.audiences,
          algorithms: options.algorithms,
          requiredClaims: ["exp", "sub"],
          clockTolerance: 5,
        }));
      } catch (error) {
        throw rejection(error);
      }
      return {
        token,
        clientId:
          stringClaim(payload.client_id) ??
          stringClaim(payload.azp) ??
          stringClaim(payload.cid) ??
          "",
        scopes: scopesOf(payload, options.scopeClaim),
        expiresAt: payload.exp,
        resource: matchedAudience(payload.aud, options.audiences),
        // Read by the tools' caller context and the request log.
        extra: { subject: String(payload.sub), issuer: options.issuer },
      };
    },
  };
}

function rejection(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new InvalidTokenError("token expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return new InvalidTokenError("token issuer is not trusted by this server");
      case "aud":
        return new InvalidTokenError("token audience is not this resource");
      case "nbf":
        return new InvalidTokenError("token is not yet valid");
      case "iat":
        return new InvalidTokenError("token issued-at time is in the future");
      default:
        return new InvalidTokenError(`token claim ${error.claim} is missing or invalid`);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new InvalidTokenError("token signing algorithm is not allowed");
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError("token signature is invalid");
  }
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new InvalidTokenError("token key id matches no key of the issuer");
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return new TemporarilyUnavailableError(`issuer keys unavailable: ${error.message}`);
  }
  if (error instanceof errors.JOSEError) return new InvalidTokenError("token is malformed");
  // fetch failures of the JWKS surface as plain errors: not the token's fault
  return new TemporarilyUnavailableError(`issuer keys unavailable: ${errorMessage(error)}`);
}

function scopesOf(payload: JWTPayload, extraClaim: string | undefined): string[] {
  const claims = [payload.scope, payload.scp, extraClaim ? payload[extraClaim] : undefined];
  const scopes = claims.flatMap((claim) => {
    if (typeof claim === "string") return claim.split(" ");
    if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === "string");
    return [];
  });
  return [...new Set(scopes.filter(Boolean))];
}

function matchedAudience(aud: JWTPayload["aud"], accepted: string[]): URL | undefined {
  const audiences = Array.isArray(aud) ? aud : aud ? [aud] : [];
  const match = audiences.find((a) => accepted.includes(a));
  return match && URL.canParse(match) ? new URL(match) : undefined;
}

const stringClaim = (value: unknown) => (typeof value === "string" && value ? value : undefined);

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
