import type { AuthInfo } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import type { Auditor } from "../audit/auditor.js";
import { scopeRefusal } from "../audit/events.js";
import { callerOf } from "../auth/caller.js";
import { bearerChallenge } from "../auth/challenge.js";
import { authorize } from "../auth/policy.js";
import { decide } from "../http/decision.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { mcpRequestOf, rpcId } from "./request.js";

interface AuthorizeOptions {
  resourceMetadataUrl: string;
  auditor: Auditor;
  /** Each decision in a span under its message's. */
  telemetry?: Telemetry;
}

/**
 * Decides, and only decides: every message of the request (a 2025-era batch
 * included) is authorized by the scope policy with its arguments, as its
 * classification demands. If any is refused nothing runs, the refusal is
 * audited, and the client gets 403 `insufficient_scope` naming the
 * narrowest scopes that would allow it plus those the token holds (MCP
 * authorization: step-up). Allowed, the request carries the mark the tools'
 * own scope check reads, so the policy is evaluated once per call.
 */
export function authorizeRequest(options: AuthorizeOptions) {
  const telemetry = options.telemetry ?? NO_TELEMETRY;
  return (req: Request, res: Response, next: NextFunction) => {
    const { messages, demands } = mcpRequestOf(req);
    const granted = req.auth?.scopes ?? [];
    for (const [index, demand] of demands.entries()) {
      const decision = telemetry.authorization(req, index, () =>
        authorize(demand.requirement, granted),
      );
      if (decision.allowed) continue;
      const message = messages[index];
      const allowing = decision.missing
        .map((scope) => (decision.allowedBy[scope] ?? [scope]).join(" or "))
        .join(", and ");
      const description = `${demand.target} requires ${allowing}; the token has ${granted.length > 0 ? granted.join(" ") : "no scopes"}`;
      decide(req, "insufficient_scope", description);
      const traceId = telemetry.traceIdOf(req);
      options.auditor.refusal({
        ...scopeRefusal(callerOf(req.auth), demand, decision.missing),
        ...(traceId ? { traceId } : {}),
      });
      res.set(
        "WWW-Authenticate",
        bearerChallenge({
          // In development, the loopback name the request used (auth/loopback-resource.ts).
          resourceMetadata: req.loopback?.resourceMetadataUrl ?? options.resourceMetadataUrl,
          scope: decision.challenge,
          error: "insufficient_scope",
          description,
        }),
      );
      sendRpcError(res, 403, RpcError.Forbidden, `Insufficient scope: ${description}`, {
        id: rpcId(message?.id),
        data: {
          [message?.method === "tools/call" ? "tool" : "method"]: demand.target,
          missingScopes: decision.missing,
          allowedBy: decision.allowedBy,
          grantedScopes: granted,
        },
      });
      return;
    }
    if (req.auth) (req.auth as Authorized)[AUTHORIZED] = true;
    next();
  };
}

const AUTHORIZED = Symbol("authorized by authorizeRequest");
type Authorized = AuthInfo & { [AUTHORIZED]?: true };

/** Whether this request's every message was authorized already (its AuthInfo is one per request). */
export const authorizedAlready = (auth: AuthInfo | undefined): boolean =>
  (auth as Authorized | undefined)?.[AUTHORIZED] === true;
