import { z } from "zod";

/** Inputs several tools share. */

export const runId = z.string().min(1).describe("The run's id, e.g. trn-…");

export const waitSeconds = z
  .number()
  .int()
  .min(0)
  .max(120)
  .default(0)
  .describe("Wait up to this many seconds (0–120) for the run to finish; 0 returns at once");
