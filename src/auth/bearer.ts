import {
  InvalidTokenError,
  OAuthError,
  TemporarilyUnavailableError,
} from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { NextFunction, Request, Response } from "express";
import { bearerChallenge } from "./challenge.js";
import type { JwtVerifier } from "./verifier.js";

export interface BearerOptions {
  verifier: JwtVerifier;
  resourceMetadataUrl: string;
  /** Scopes named in a 401 challenge: what a client should ask for. */
  challengeScopes: readonly string[];
}

/**
 * Authenticates `Authorization: Bearer` (the only method accepted: never a
 * query string or body). Sets `req.auth`; otherwise answers 401 with the
 * challenge that lets a client discover the authorization server.
 */
export function requireBearer({ verifier, resourceMetadataUrl, challengeScopes }: BearerOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const challenge = { resourceMetadata: resourceMetadataUrl, scope: challengeScopes };
    if (!header) {
      res.locals.authDecision = "no_token";
      res.set("WWW-Authenticate", bearerChallenge(challenge));
      res.status(401).json({
        error: "unauthorized",
        error_description: "A bearer token is required in the Authorization header",
      });
      return;
    }
    try {
      const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
      if (!match?.[1]) throw new InvalidTokenError("Authorization header must be `Bearer <token>`");
      req.auth = await verifier.verifyAccessToken(match[1]);
      res.locals.authDecision = "authenticated";
      next();
    } catch (error) {
      const oauth =
        error instanceof OAuthError ? error : new TemporarilyUnavailableError("token check failed");
      if (oauth instanceof TemporarilyUnavailableError) {
        res.locals.authDecision = "keys_unavailable";
        res.locals.authReason = oauth.message;
        res.set("Retry-After", "5");
        res.status(503).json(oauth.toResponseObject());
        return;
      }
      res.locals.authDecision = "invalid_token";
      res.locals.authReason = oauth.message;
      res.set(
        "WWW-Authenticate",
        bearerChallenge({ ...challenge, error: "invalid_token", description: oauth.message }),
      );
      res.status(401).json(oauth.toResponseObject());
    }
  };
}
