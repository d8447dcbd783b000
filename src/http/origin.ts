import type { NextFunction, Request, Response } from "express";
import { decide } from "./decision.js";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

/**
 * DNS-rebinding protection (MCP Streamable HTTP transport, security warning):
 * a browser always sends Origin, so a foreign one is refused; requests without
 * Origin (curl, servers, native clients) are not browser-driven and pass.
 */
export function checkOrigin(allowed: readonly string[]) {
  const origins = new Set(allowed.map((o) => o.toLowerCase()));
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin === undefined || origins.has(origin.toLowerCase())) {
      next();
      return;
    }
    decide(req, "origin_refused");
    sendRpcError(
      res,
      403,
      RpcError.Forbidden,
      `Origin ${origin} is not allowed (see ALLOWED_ORIGINS)`,
    );
  };
}
