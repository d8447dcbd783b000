/**
 * One attempt of one task, in a pooled worker thread: the server's event loop
 * never waits on task code, and stopping the attempt terminates the thread,
 * so the work really stops. A thread runs one attempt at a time and is reused
 * for the next (module state persists, as in a warm instance).
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import { threadId } from "node:worker_threads";
import { errorMessage } from "../../../error-message.js";
import { MAX_LOG_LINES_PER_ATTEMPT, MAX_RESULT_BYTES } from "../limits.js";
import { type RegisteredTask, registeredTaskOf } from "../registry.js";
import type { LocalTaskContext, TaskDefinition, TaskLogger } from "../task.js";
import { loadTasks } from "../tasks-module.js";
import { boundLine, resultTooLarge } from "./bounds.js";
import type { AttemptInput, FromWorker, LogLevel, ToWorker } from "./protocol.js";

/** The attempt whose code is running: console output goes to its log. */
const current = new AsyncLocalStorage<(level: LogLevel, message: string) => void>();

// What a task prints is its log too. A timer an ended attempt left behind still
// prints as that attempt, into its closed port: dropped. So is output outside any attempt.
const consoleLevels: [keyof Console, LogLevel][] = [
  ["log", "info"],
  ["info", "info"],
  ["debug", "debug"],
  ["warn", "warn"],
  ["error", "error"],
];
for (const [method, level] of consoleLevels) {
  (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
    current.getStore()?.(level, format(...args));
}
for (const [stream, level] of [
  [process.stdout, "info"],
  [process.stderr, "error"],
] as const) {
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const log = current.getStore();
    if (log) {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      for (const line of text.split("\n")) if (line) log(level, line);
    }
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof stream.write;
}

export default async function runAttempt(input: AttemptInput): Promise<void> {
  const { port } = input;
  const send = (message: FromWorker) => port.postMessage(message);
  send({ type: "started", threadId });

  let lines = 0;
  const log = (level: LogLevel, message: string) => {
    // The engine keeps MAX_LOG_LINES_PER_ATTEMPT and a notice; sending more would only flood the port.
    if (++lines > MAX_LOG_LINES_PER_ATTEMPT + 1) return;
    send({ type: "log", level, message: boundLine(message), timestamp: new Date().toISOString() });
  };

  let nextCallId = 0;
  let ended = false;
  const calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  port.on("message", (message: ToWorker) => {
    const call = calls.get(message.callId);
    calls.delete(message.callId);
    if (!call) return;
    if (message.ok) call.resolve((JSON.parse(message.resultsJson) as unknown[])[0]);
    else call.reject(new Error(message.error));
  });

  const logger: TaskLogger = {
    debug: (message) => log("debug", String(message)),
    info: (message) => log("info", String(message)),
    warn: (message) => log("warn", String(message)),
    error: (message) => log("error", String(message)),
  };
  const ctx: LocalTaskContext = {
    runId: input.runId,
    attempt: input.attempt,
    log: logger,
    run<TArgs extends unknown[], TResult>(
      task: TaskDefinition<TArgs, TResult>,
      ...args: TArgs
    ): Promise<TResult> {
      if (!registeredTaskOf(task)) {
        return Promise.reject(new Error(`Task '${task?.name}' is not registered`));
      }
      if (ended) {
        return Promise.reject(new Error(`attempt ${input.attempt} of ${input.runId} has ended`));
      }
      let argsJson: string;
      try {
        argsJson = JSON.stringify(args);
      } catch (error) {
        return Promise.reject(
          new Error(`the arguments to ${task.name} are not JSON: ${(error as Error).message}`),
        );
      }
      const callId = nextCallId++;
      return new Promise<TResult>((resolve, reject) => {
        calls.set(callId, { resolve: resolve as (value: unknown) => void, reject });
        send({ type: "subtask", callId, task: task.name, argsJson });
      });
    },
  };

  let done: FromWorker;
  try {
    const result = await current.run(log, async () => {
      const task = await taskNamed(input.tasksModule, input.task);
      const args = JSON.parse(input.argsJson) as unknown[];
      return (task.func as (ctx: LocalTaskContext, ...args: unknown[]) => unknown)(ctx, ...args);
    });
    done = { type: "done", ok: true, resultJson: resultJson(result) };
  } catch (error) {
    done = {
      type: "done",
      ok: false,
      error: errorMessage(error),
    };
  }
  ended = true;
  send(done);
  port.close();
}

async function taskNamed(tasksModule: string, name: string): Promise<RegisteredTask> {
  const task = (await loadTasks(tasksModule)).get(name);
  if (!task) throw new Error(`task ${name} is not defined in ${tasksModule}`);
  return task;
}

/** Results are stored and sent as JSON, at most MAX_RESULT_BYTES: anything else fails the attempt, clearly. */
function resultJson(value: unknown): string {
  if (value === undefined) return "null";
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new Error(`the task's result is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (json === undefined) throw new Error("the task's result is not JSON-serialisable");
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_RESULT_BYTES) throw new Error(resultTooLarge(bytes));
  return json;
}
