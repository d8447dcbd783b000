import type { MessagePort } from "node:worker_threads";
import { z } from "zod";

/**
 * What an attempt's worker thread and the engine say to each other, over a
 * MessageChannel made for the attempt. Messages from the worker are checked
 * on arrival: task code runs in that thread.
 */

export const LogLevel = z.enum(["debug", "info", "warn", "error"]);
export type LogLevel = z.infer<typeof LogLevel>;

export const FromWorker = z.union([
  /** The first message: which thread runs the attempt (so stopping it can wait for that thread's exit). */
  z.object({ type: z.literal("started"), threadId: z.number().int() }),
  z.object({ type: z.literal("log"), level: LogLevel, message: z.string(), timestamp: z.string() }),
  z.object({
    type: z.literal("subtask"),
    callId: z.number().int().nonnegative(),
    task: z.string(),
    /** The arguments as JSON: what cannot be JSON fails in the worker, where the caller is. */
    argsJson: z.string(),
  }),
  /** The last message: everything the attempt logged came before it on this port. */
  z.object({ type: z.literal("done"), ok: z.literal(true), resultJson: z.string() }),
  z.object({ type: z.literal("done"), ok: z.literal(false), error: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorker>;

/** How a subtask run ended, for the ctx.run awaiting it. */
export type SubtaskAnswer = { ok: true; resultsJson: string } | { ok: false; error: string };

export type ToWorker = { type: "subtask-done"; callId: number } & SubtaskAnswer;

/** The piscina task: one attempt. */
export interface AttemptInput {
  tasksModule: string;
  task: string;
  argsJson: string;
  runId: string;
  attempt: number;
  port: MessagePort;
}
