import { z } from "zod";
import { TaskRunStatus } from "../workflows/run.js";

/** Inputs several tools share; every string and array is bounded here, by schema. */

export const runId = z.string().min(1).max(256).describe("The run's id, e.g. trn-…");

export const taskName = z
  .string()
  .min(1)
  .max(512)
  .describe("The task's name, as list_tasks shows it");

export const waitSeconds = z
  .number()
  .int()
  .min(0)
  .max(120)
  .default(0)
  .describe("Wait up to this many seconds (0–120) for the run to finish; 0 returns at once");

export const cursor = z
  .string()
  .min(1)
  .max(4096)
  .optional()
  .describe("next_cursor from the previous page");

export const nextCursor = z.string().optional().describe("Present when there may be more");

export const statuses = z
  .array(TaskRunStatus)
  .min(1)
  .max(TaskRunStatus.options.length)
  .optional()
  .describe("Only runs in one of these statuses");

export const timestamp = z.iso.datetime({ offset: true });
