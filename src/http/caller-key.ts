import type { Request } from "express";

/**
 * Whom a per-caller limit counts for: the verified token's issuer and subject
 * (set by requireBearer), never anything else the client sends.
 */
export function callerKey(req: Request): string {
  const extra = req.auth?.extra ?? {};
  return `${String(extra.issuer)}\n${String(extra.subject)}`;
}
