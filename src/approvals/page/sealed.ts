import { EncryptJWT, jwtDecrypt } from "jose";
import type { z } from "zod";
import { approvalKeys } from "../keys.js";

/** One key per purpose, so a value sealed for one is never accepted as another. */
export interface PageKeys {
  session: Uint8Array;
  signIn: Uint8Array;
  csrf: Uint8Array;
}

/**
 * The page's keys, each derived for its purpose from APPROVAL_SECRET
 * (approvals/keys.ts), so every instance opens what any other sealed;
 * without it (development only), random per start: restarting signs
 * everyone out of the page, nothing more.
 */
export function pageKeys(secret: string | undefined): PageKeys {
  const derive = approvalKeys(secret);
  return {
    session: derive("page session"),
    signIn: derive("page sign-in"),
    csrf: derive("page csrf"),
  };
}

/** A sealed value longer than this is not ours (cookies hold 4 KB): refused unread. */
const MAX_SEALED = 4_096;

/** Encrypts and authenticates `claims` (JWE, `dir` + A256GCM) until `ttlSeconds` from now. */
export function seal(
  key: Uint8Array,
  claims: Record<string, unknown>,
  ttlSeconds: number,
): Promise<string> {
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(ttlSeconds)))
    .encrypt(key);
}

/** What `seal` sealed with `key`, if it is intact, unexpired and of `schema`'s shape; else undefined. */
export async function unseal<T>(
  key: Uint8Array,
  sealed: string | undefined,
  schema: z.ZodType<T>,
): Promise<T | undefined> {
  if (!sealed || sealed.length > MAX_SEALED) return undefined;
  try {
    const { payload } = await jwtDecrypt(sealed, key, {
      keyManagementAlgorithms: ["dir"],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    const parsed = schema.safeParse(payload);
    return parsed.success ? parsed.data : undefined;
  } catch {
    // Tampered, expired, or sealed with another key (another purpose, or before a restart).
    return undefined;
  }
}
