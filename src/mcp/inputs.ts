import { z } from "zod";

/** Shared by the tools that can wait for a run to finish. */
export const waitSeconds = z
  .number()
  .int()
  .min(0)
  .max(120)
  .default(0)
  .describe("Wait up to this many seconds (0–120) for the run to finish; 0 returns at once");
