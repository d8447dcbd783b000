import type { AuthInfo } from "@modelcontextprotocol/server";
import type { Request } from "express";

/**
 * Whom a per-caller bound counts for: the verified token's issuer and subject
 * (set by requireBearer), never anything else the client sends.
 */
export function callerKeyOf(auth: AuthInfo | undefined): string {
  const extra = auth?.extra ?? {};
  return `${String(extra.issuer)}\n${String(extra.subject)}`;
}

export const callerKey = (req: Request): string => callerKeyOf(req.auth);
