import type { AuthInfo } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import { TokenRejected } from "./errors.js";
import { resourceMetadataUrl } from "./metadata.js";

/**
 * In development (no PUBLIC_URL, the development authorization server), a
 * client may reach the server as http://localhost:PORT, http://127.0.0.1:PORT
 * or http://[::1]:PORT, and checks that the Protected Resource Metadata names
 * the URL it used (RFC 9728 §3.3: mcp-remote stops otherwise). So each
 * loopback name is answered as itself: the request's resource identifier and
 * metadata URL go on the request (`req.loopback`), where the metadata, the
 * challenges and the audience check read them. Other Host values (and every request once
 * PUBLIC_URL is set) keep the configured resource.
 */
export function loopbackResource(resources: readonly string[]) {
  const byHost = new Map(
    resources.map((resource) => [
      new URL(resource).host,
      { resource, resourceMetadataUrl: resourceMetadataUrl(resource) },
    ]),
  );
  return (req: Request, _res: Response, next: NextFunction) => {
    const named = byHost.get(String(req.headers.host).toLowerCase());
    if (named) req.loopback = named;
    next();
  };
}

/**
 * A token is for the loopback name the request was sent to (its audience is
 * that resource identifier): the verifier accepts any of the three, and this
 * narrows it to the request's. Does nothing outside development.
 */
export function checkLoopbackAudience(req: Request, auth: AuthInfo): void {
  const resource = req.loopback?.resource;
  if (resource === undefined || auth.resource?.href === resource) return;
  throw new TokenRejected(
    "ERR_TOKEN_AUDIENCE_MISMATCH",
    `token audience is not this resource (${resource}): get a token for the URL you call`,
    "aud",
  );
}
