import type Database from "better-sqlite3";
import { LimitReached } from "../errors.js";
import type { Principal } from "../run.js";
import { firstFinishedRoot, storedBytes } from "./db/queries.js";
import { BYTES_PER_MB } from "./limits.js";
import { deletedBy } from "./retention.js";

export interface StorageLimits {
  /** 0: no bound. */
  maxStoredMbPerCaller: number;
  /** 0: runs are kept forever. */
  runRetentionDays: number;
}

/**
 * Why `owner` may not store a new run with `input` (it would take them past
 * maxStoredMbPerCaller), or undefined if it may. The caller's total is one
 * row (caller_storage), so this costs nothing on every start; only a refusal
 * looks for when the caller's oldest run is deleted.
 */
export function storageRefusal(
  db: Database.Database,
  owner: Principal,
  input: unknown[],
  limits: StorageLimits,
  now: Date,
): LimitReached | undefined {
  const { maxStoredMbPerCaller: quotaMb, runRetentionDays: days } = limits;
  if (quotaMb === 0) return undefined;
  const inputBytes = Buffer.byteLength(JSON.stringify(input));
  const stored = storedBytes(db, owner);
  if (stored + inputBytes <= quotaMb * BYTES_PER_MB) return undefined;
  const refusal = `You store ${size(stored)} here (the input, results, errors and logs of your runs), and this run's input (${size(inputBytes)}) would take you past ${quotaMb} MB, the most one caller may store`;
  if (days === 0) {
    return new LimitReached(
      `${refusal}; runs are kept here until the server's operator sets a retention period, which frees space`,
    );
  }
  const retention = `${refusal}; finished runs are deleted ${duration(days * 86_400)} after they finish, which frees space`;
  const finished = firstFinishedRoot(db, owner);
  if (finished === undefined) {
    return new LimitReached(`${retention} (none of yours has finished yet)`);
  }
  const retryAfterSeconds = Math.max(
    1,
    Math.ceil((deletedBy(finished, days, now) - now.getTime()) / 1000),
  );
  return new LimitReached(`${retention}: your oldest goes within ${duration(retryAfterSeconds)}`, {
    retryAfterSeconds,
  });
}

/** Bytes as a person reads them: 812 bytes, 4.2 KB, 0.38 MB, 3.05 MB. */
function size(bytes: number): string {
  if (bytes >= BYTES_PER_MB / 10) return `${(bytes / BYTES_PER_MB).toFixed(2)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}

/** Seconds as a person reads them: 45 s, 12 min, 5 h, 30 days. */
function duration(seconds: number): string {
  if (seconds < 120) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}
