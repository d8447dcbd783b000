import { AsyncLocalStorage } from "node:async_hooks";
import type { z } from "zod";

/** Render's retry policy: attempt n+1 waits waitDurationMs × backoffScaling^(n-1). */
export interface RetryPolicy {
  maxRetries: number;
  waitDurationMs: number;
  backoffScaling: number;
}

export interface TaskOptions<A extends unknown[]> {
  name: string;
  description?: string;
  /** Validates the positional arguments and is published as their JSON Schema. */
  input?: z.ZodType<A>;
  retry?: RetryPolicy;
  timeoutSeconds?: number;
}

export interface TaskLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a running task can know about itself. */
export interface TaskContext {
  runId: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  attempt: number;
  log: TaskLogger;
}

export interface TaskDefinition extends TaskOptions<unknown[]> {
  run: (...args: unknown[]) => unknown;
}

const DEFINITION = Symbol.for("workflows-mcp.task");

/** Calling a task inside a running task starts a subtask run and resolves to its result. */
export type Task<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & {
  readonly [DEFINITION]: TaskDefinition;
};

/** Installed by the worker around a task's function. */
export interface TaskRuntime {
  context: TaskContext;
  runSubtask(name: string, args: unknown[]): Promise<unknown>;
}

export const taskRuntime = new AsyncLocalStorage<TaskRuntime>();

/**
 * Defines a task the way Render's Workflows SDK does:
 * `export const square = task({ name: "square" }, (n: number) => n * n)`.
 */
export function task<A extends unknown[], R>(
  options: TaskOptions<A>,
  fn: (...args: A) => R,
): Task<A, R> {
  const definition = { ...options, run: fn } as unknown as TaskDefinition;
  const call = (...args: A) => {
    const runtime = taskRuntime.getStore();
    if (!runtime) {
      return Promise.reject(
        new Error(
          `task ${options.name} runs only inside another task; start it with start_task_run`,
        ),
      );
    }
    return runtime.runSubtask(options.name, args) as Promise<Awaited<R>>;
  };
  return Object.defineProperty(call, DEFINITION, { value: definition }) as Task<A, R>;
}

/** The running task's context: its run id, attempt number and logger. */
export function taskContext(): TaskContext {
  const runtime = taskRuntime.getStore();
  if (!runtime) throw new Error("taskContext() is available only while a task runs");
  return runtime.context;
}

/** The tasks a module exports, by name. */
export function tasksOf(module: Record<string, unknown>): Map<string, TaskDefinition> {
  const tasks = new Map<string, TaskDefinition>();
  for (const value of Object.values(module)) {
    const definition = (value as Partial<Task<unknown[], unknown>> | undefined)?.[DEFINITION];
    if (definition) tasks.set(definition.name, definition);
  }
  return tasks;
}
