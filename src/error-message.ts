/** The message of a thrown value, which need not be an Error. */
export const errorMessage = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/** An error's reason as one short line, without `secret` (a password) in it. */
export function reasonOf(error: unknown, secret?: string): string {
  const e = error as { message?: unknown; code?: unknown } | null;
  const text =
    (typeof e?.message === "string" && e.message) ||
    (typeof e?.code === "string" && e.code) ||
    String(error);
  const line = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return secret ? line.replaceAll(secret, "***") : line;
}
