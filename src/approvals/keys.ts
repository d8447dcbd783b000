import { hkdfSync, randomBytes } from "node:crypto";

/**
 * Keys for what the server seals for approvals — the state of a URL
 * elicitation's rounds, the approval page's sign-in — each derived from
 * APPROVAL_SECRET for its own purpose (HKDF-SHA256), so one never opens
 * what another sealed. Without a secret (development only: configuration
 * requires it in production), a random one per process: a restart signs
 * people out, nothing else.
 */
export function approvalKeys(secret: string | undefined): (purpose: string) => Uint8Array {
  const master = secret === undefined ? randomBytes(32) : Buffer.from(secret, "utf8");
  return (purpose) =>
    new Uint8Array(hkdfSync("sha256", master, "workflows-mcp approvals", purpose, 32));
}
