import type { NextFunction, Request, Response } from "express";
import { decide } from "./decision.js";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

/**
 * Headers a request may carry once. With two, Node keeps the first in
 * `req.headers` while a proxy in front may act on the last, so which host
 * (RFC 9112 §3.2 requires 400 for more than one Host) or which caller the
 * request is for would depend on who reads it. Counted in `rawHeaders`
 * (names as sent, so compared case-insensitively), on every route, before
 * anything else runs.
 */
export function refuseDuplicateHeaders(req: Request, res: Response, next: NextFunction): void {
  const raw = req.rawHeaders;
  let hosts = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isNamed(name, "host")) hosts++;
    else if (isNamed(name, "authorization")) authorizations++;
  }
  if (hosts <= 1 && authorizations <= 1) {
    next();
    return;
  }
  const [header, count] = hosts > 1 ? ["Host", hosts] : ["Authorization", authorizations];
  decide(req, "duplicate_header");
  sendRpcError(
    res,
    400,
    RpcError.InvalidRequest,
    `Bad Request: the request has ${count} ${header} headers; send exactly one`,
  );
}

/** `name` is `lower` in any case, compared without building a lowercased copy per header. */
function isNamed(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    // `lower` is all letters, and a character with the 0x20 bit set is one only if it is that letter in either case.
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
