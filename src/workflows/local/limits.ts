import { z } from "zod";
import { DEFAULT_MAX_ACTIVE_RUNS } from "../active-runs.js";
import { MAX_INPUT_BYTES } from "../run.js";

/** The engine's defaults, here only (the configuration in src/config.ts reads them). */
export const ENGINE_DEFAULTS = {
  maxThreads: 6,
  maxSubtaskDepth: 3,
  workerHeapMb: 256,
  maxPendingPerCaller: 50,
  maxPending: 500,
  runRetentionDays: 30,
  maxStoredMbPerCaller: 256,
} as const;

/** Longest retention accepted, in days (100 years: longer is "forever", which is 0). */
export const MAX_RETENTION_DAYS = 36_500;

/** Largest storage bound per caller accepted, in MB. */
export const MAX_STORED_MB_PER_CALLER = 1_000_000;

/** A megabyte, as the limits count it (the 4 MB input bound is 4 of these). */
export const BYTES_PER_MB = 1024 * 1024;

/**
 * What bounds the embedded engine, whatever callers send and whatever shape
 * their run trees take. The defaults go unnoticed on one person's laptop and
 * still bound a hostile caller: at most 6 threads of 256 MB heap each, and
 * 256 MB stored per caller, kept 30 days.
 */
export const EngineLimits = z
  .object({
    /** Worker threads, all attempts together (roots and subtasks). */
    maxThreads: z.number().int().min(1).max(64).default(ENGINE_DEFAULTS.maxThreads),
    /** How deep subtasks nest under a root run (a root's subtask is 1 deep); must be below maxThreads. */
    maxSubtaskDepth: z.number().int().min(0).max(16).default(ENGINE_DEFAULTS.maxSubtaskDepth),
    /** Old-generation heap of each worker thread, in MB. */
    workerHeapMb: z.number().int().min(16).max(16_384).default(ENGINE_DEFAULTS.workerHeapMb),
    /** Root runs one caller (issuer and subject) may have waiting to start. */
    maxPendingPerCaller: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(ENGINE_DEFAULTS.maxPendingPerCaller),
    /** Root runs all callers together may have waiting to start. */
    maxPending: z.number().int().min(1).max(1_000_000).default(ENGINE_DEFAULTS.maxPending),
    /** Unfinished root runs one caller may have, waiting or running; 0: no bound. */
    maxActiveRunsPerCaller: z.number().int().min(0).max(100_000).default(DEFAULT_MAX_ACTIVE_RUNS),
    /** Unfinished subtask runs under one root run; a ctx.run beyond it fails. */
    maxOpenSubtasksPerRun: z.number().int().min(1).max(100_000).default(1_000),
    /** A run interrupted this many times (the server stopped while it ran) fails instead of running again. */
    maxInterruptions: z.number().int().min(1).max(100).default(3),
    /** Finished run trees are deleted, with their attempts and logs, this many days after their root finished; 0 keeps them forever. */
    runRetentionDays: z
      .number()
      .min(0)
      .max(MAX_RETENTION_DAYS)
      .default(ENGINE_DEFAULTS.runRetentionDays),
    /** What one caller's runs may store (input, results, errors, log messages), in MB; 0: no bound. */
    maxStoredMbPerCaller: z
      .number()
      .int()
      .min(0)
      .max(MAX_STORED_MB_PER_CALLER)
      .default(ENGINE_DEFAULTS.maxStoredMbPerCaller),
  })
  .refine((limits) => limits.maxSubtaskDepth < limits.maxThreads, {
    path: ["maxSubtaskDepth"],
    message:
      "must be below maxThreads: a chain of subtasks holds one thread per level, and roots need one more",
  })
  .refine((limits) => limits.maxPendingPerCaller <= limits.maxPending, {
    path: ["maxPendingPerCaller"],
    message: "must be at most maxPending",
  });
export type EngineLimits = z.infer<typeof EngineLimits>;
export type EngineLimitsInput = z.input<typeof EngineLimits>;

/** A task's result, as JSON: the same bound as its input, as on Render. */
export const MAX_RESULT_BYTES = MAX_INPUT_BYTES;

/** Longest log line kept; longer ones are cut, with an ellipsis. */
export const MAX_LOG_LINE_CHARS = 8_192;

/** Log lines kept per attempt; then one line says the rest were dropped. */
export const MAX_LOG_LINES_PER_ATTEMPT = 10_000;

/** Largest page of runs or log lines one call returns. */
export const MAX_PAGE_LIMIT = 1_000;

/**
 * Most characters of log messages one page carries: a thousand lines of 8 KB
 * would be an 8 MB answer (twice over, with its text), so a page ends early
 * and its cursor leads on.
 */
export const MAX_LOG_PAGE_CHARS = 1024 * 1024;

export { LIMIT_RETRY_AFTER_SECONDS } from "../errors.js";

/** Idle worker threads exit after this long, so an idle server holds none. */
export const IDLE_THREAD_MS = 30_000;
