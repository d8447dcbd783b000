import type { AuthInfo } from "@modelcontextprotocol/server";
import type { Principal } from "../workflows/run.js";

/** Who is calling, from the verified access token: nothing else a client sends names it. */
export interface Caller extends Principal {
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt?: number;
}

/** A caller acting in one call: what the call records carries its trace id (when traces are exported). */
export interface Actor extends Caller {
  traceId?: string;
}

/**
 * The caller a verified token names. The one reader of the AuthInfo the
 * verifier builds (src/auth/verifier.ts: subject and issuer in `extra`);
 * without a verified token, nobody (empty issuer and subject).
 */
export function callerOf(auth: AuthInfo | undefined): Caller {
  const extra = auth?.extra;
  return {
    issuer: typeof extra?.issuer === "string" ? extra.issuer : "",
    subject: typeof extra?.subject === "string" ? extra.subject : "",
    clientId: auth?.clientId ?? "",
    scopes: auth?.scopes ?? [],
    ...(auth?.expiresAt === undefined ? {} : { expiresAt: auth.expiresAt }),
  };
}

/** One key per person (issuer and subject, never the client): what per-caller bounds count by. */
export const callerKey = (caller: Principal): string => `${caller.issuer}\n${caller.subject}`;
