/**
 * Tasks the way Render's TypeScript SDK 1.x defines them
 * (`@renderinc/sdk/workflows`): `task(options, func)` registers a task and
 * returns its definition; every task takes a TaskContext first and runs
 * another task with `await ctx.run(otherTask, ...args)`. The exported names and
 * signatures match the SDK's, so a tasks module moves to Render by swapping
 * this import for `@renderinc/sdk/workflows`. What only the embedded engine
 * has (`description`, `input`, `localContext`) is marked as such below.
 */
import type { ZodType } from "zod";
import { register } from "./registry.js";

/** Render's retry policy: retry n waits `waitDurationMs × backoffScaling^(n−1)`. */
export interface Retry {
  maxRetries: number;
  waitDurationMs: number;
  /** Default 1.5, as in the SDK. */
  backoffScaling?: number;
}

export interface RegisterTaskOptions<TArgs extends unknown[] = unknown[]> {
  /** The name a run names the task by. */
  name: string;
  retry?: Retry;
  /** An attempt running longer is stopped and failed (then retried like any failure). */
  timeoutSeconds?: number;
  /** Render's compute plan for the task; accepted and ignored here. */
  plan?: string;
  /** Embedded engine only (not in the SDK): shown by list_tasks. */
  description?: string;
  /**
   * Embedded engine only (not in the SDK): validates the positional arguments
   * before a run is created, and is published by list_tasks as JSON Schema.
   */
  input?: ZodType<TArgs>;
}

/** Passed to every task as its first argument: how a task reaches other tasks. */
export interface TaskContext {
  /** Runs another task as a subtask run and resolves with its result; rejects if it fails. */
  run<TArgs extends unknown[], TResult>(
    task: TaskDefinition<TArgs, TResult>,
    ...args: TArgs
  ): Promise<TResult>;
}

/** A task's body: the context, then the run's positional arguments. */
export type TaskFunction<TArgs extends unknown[] = unknown[], TResult = unknown> = (
  ctx: TaskContext,
  ...args: TArgs
) => TResult | Promise<TResult>;

/** A registered task: pass it to `ctx.run`, or call `func` with a context of your own in unit tests. */
export interface TaskDefinition<TArgs extends unknown[] = unknown[], TResult = unknown> {
  readonly name: string;
  readonly func: TaskFunction<TArgs, TResult>;
}

const DEFAULT_BACKOFF_SCALING = 1.5;

/**
 * Registers a task. Every task a tasks module defines is served, exported or
 * not, as on Render.
 */
export function task<TArgs extends unknown[], TResult>(
  options: RegisterTaskOptions<TArgs>,
  func: TaskFunction<TArgs, TResult>,
): TaskDefinition<TArgs, TResult> {
  const { name, retry, timeoutSeconds, description, input } = options;
  if (typeof name !== "string" || name.length === 0) {
    throw new Error("task(): options.name is required");
  }
  return Object.freeze(
    register(
      { name, func },
      {
        name,
        func,
        description,
        input: input as ZodType<unknown[]> | undefined,
        retry: retry && {
          maxRetries: retry.maxRetries,
          waitDurationMs: retry.waitDurationMs,
          backoffScaling: retry.backoffScaling ?? DEFAULT_BACKOFF_SCALING,
        },
        timeoutSeconds,
      },
    ),
  );
}

export interface TaskLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * Embedded engine only (not in the SDK, where `console.*` is the log and the
 * attempt number is not exposed): what the engine's context also knows.
 */
export interface LocalTaskContext extends TaskContext {
  readonly runId: string;
  /** 1 for the first attempt, then one more per retry or rerun. */
  readonly attempt: number;
  /** Lines with a level; `console.*` is captured too. */
  readonly log: TaskLogger;
}

/** Embedded engine only: the run id, attempt number and logger of the context a task was given. */
export function localContext(ctx: TaskContext): LocalTaskContext {
  const local = ctx as Partial<LocalTaskContext>;
  if (typeof local.runId !== "string" || typeof local.attempt !== "number" || !local.log) {
    throw new Error("localContext() needs the context the embedded engine passed to the task");
  }
  return local as LocalTaskContext;
}
