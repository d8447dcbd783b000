import type { AuthInfo } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import type { Auditor } from "../audit/auditor.js";
import { tokenRefusal } from "../audit/events.js";
import { decide } from "../http/decision.js";
import type { Logger } from "../logger.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { bearerChallenge } from "./challenge.js";
import { KEYS_UNAVAILABLE_MESSAGE, KeysUnavailable, TokenRejected } from "./errors.js";
import { checkLoopbackAudience } from "./loopback-resource.js";
import { DEFAULT_SCOPES } from "./scopes.js";

export interface BearerOptions {
  verifier: {
    verifyAccessToken(token: string, observe?: (cache: "hit" | "miss") => void): Promise<AuthInfo>;
  };
  resourceMetadataUrl: string;
  auditor: Auditor;
  logger: Logger;
  /** Each verification in a span (cache hit, or the issuer's keys fetched). */
  telemetry?: Telemetry;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/**
 * Authenticates `Authorization: Bearer` (the only method accepted: never a
 * query string or body). Sets `req.auth`; otherwise answers 401 with the
 * challenge that lets a client discover the authorization server. The
 * challenge names only the minimal default scope: a client asks for more
 * when a call needs it (step-up), never for the whole catalogue up front.
 */
export function requireBearer({
  verifier,
  resourceMetadataUrl,
  auditor,
  logger,
  telemetry = NO_TELEMETRY,
}: BearerOptions) {
  const configured = { resourceMetadata: resourceMetadataUrl, scope: DEFAULT_SCOPES };
  const refuse = (
    req: Request,
    outcome: "no_token" | "invalid_token",
    code?: string,
    description?: string,
  ) => {
    decide(req, outcome, description);
    const traceId = telemetry.traceIdOf(req);
    auditor.refusal({ ...tokenRefusal(outcome, code), ...(traceId ? { traceId } : {}) });
  };

  return async (req: Request, res: Response, next: NextFunction) => {
    // In development, the loopback name the request used (loopback-resource.ts).
    const metadataUrl = req.loopback?.resourceMetadataUrl ?? resourceMetadataUrl;
    const challenge =
      metadataUrl === resourceMetadataUrl
        ? configured
        : { ...configured, resourceMetadata: metadataUrl };
    const header = req.headers.authorization;
    if (!header) {
      refuse(req, "no_token");
      res.set("WWW-Authenticate", bearerChallenge(challenge));
      res.status(401).json({
        error: "unauthorized",
        error_description: "A bearer token is required in the Authorization header",
      });
      return;
    }
    try {
      const token = BEARER.exec(header)?.[1];
      if (!token) {
        throw new TokenRejected(
          "ERR_TOKEN_MALFORMED",
          "Authorization header must be `Bearer <token>`",
        );
      }
      const auth = await telemetry.verification(req, (observe) =>
        verifier.verifyAccessToken(token, observe),
      );
      checkLoopbackAudience(req, auth);
      // The SDK's own scope challenges point clients at the same metadata.
      req.auth = { ...auth, resourceMetadataUrl: metadataUrl };
      decide(req, "authenticated");
      next();
    } catch (error) {
      if (error instanceof TokenRejected) {
        refuse(req, "invalid_token", error.code, error.description);
        res.set(
          "WWW-Authenticate",
          bearerChallenge({ ...challenge, error: "invalid_token", description: error.description }),
        );
        res.status(401).json({ error: "invalid_token", error_description: error.description });
        return;
      }
      // The token is not at fault: the client keeps it and retries. Where the
      // keys live and why they failed is for the log, not for the caller.
      const retryAfter = error instanceof KeysUnavailable ? error.retryAfterSeconds : 5;
      decide(req, "keys_unavailable");
      logger.warn(
        { detail: error instanceof KeysUnavailable ? error.detail : String(error) },
        "access token not checked: issuer keys unavailable",
      );
      res.set("Retry-After", String(retryAfter));
      res.status(503).json({
        error: "temporarily_unavailable",
        error_description: KEYS_UNAVAILABLE_MESSAGE,
      });
    }
  };
}
