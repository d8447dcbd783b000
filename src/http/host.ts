import { validateHostHeader } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import { decide } from "./decision.js";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

/** Host values remembered as allowed; past this, each is checked again (the check is the same). */
const MAX_REMEMBERED = 64;

/**
 * DNS-rebinding protection on `Host` (MCP Streamable HTTP transport,
 * security warning): the SDK's check (`validateHostHeader`, port-agnostic
 * hostnames), answered as the SDK's express middleware answers it (403,
 * JSON-RPC error). The check parses a URL per request while a deployment
 * sees the same few Host values on every one, so the allowed values are
 * remembered (a bounded set); a refused value is checked anew each time.
 */
export function checkHost(allowedHostnames: readonly string[]) {
  const allowed = [...allowedHostnames];
  const remembered = new Set<string>();
  return (req: Request, res: Response, next: NextFunction) => {
    const host = req.headers.host;
    if (host !== undefined && remembered.has(host)) {
      next();
      return;
    }
    const verdict = validateHostHeader(host, allowed);
    if (!verdict.ok) {
      decide(req, "host_refused");
      sendRpcError(res, 403, RpcError.ServerError, verdict.message);
      return;
    }
    if (host !== undefined && remembered.size < MAX_REMEMBERED) remembered.add(host);
    next();
  };
}
