import type { RegisteredTask } from "./registry.js";

/**
 * Render's retry policy: after `retriesUsed` retries, another is allowed
 * while fewer than maxRetries were made, and retry n waits
 * `waitDurationMs × backoffScaling^(n−1)`. Reruns after an interruption are
 * not retries. Undefined: no retry.
 */
export function retryDelayMs(
  task: RegisteredTask | undefined,
  retriesUsed: number,
): number | undefined {
  const retry = task?.retry;
  if (!retry || retriesUsed >= retry.maxRetries) return undefined;
  return retry.waitDurationMs * retry.backoffScaling ** retriesUsed;
}
