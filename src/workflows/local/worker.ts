import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import type { FromWorker, LogLevel, ToWorker, WorkerInput } from "./messages.js";
import { type TaskLogger, taskRuntime, tasksOf } from "./task.js";

/**
 * One attempt of one task, in its own thread: the server's event loop never
 * waits on task code, and terminating the thread really stops the work.
 */
const input = workerData as WorkerInput;
const port = parentPort;
if (!port) throw new Error("worker.js runs only as a worker thread");
const send = (message: FromWorker) => port.postMessage(message);

const log = (level: LogLevel) => (message: string) =>
  send({ type: "log", level, message, timestamp: new Date().toISOString() });
const logger: TaskLogger = {
  debug: log("debug"),
  info: log("info"),
  warn: log("warn"),
  error: log("error"),
};

// What a task prints is its log too.
const consoleLevels: [keyof Console, LogLevel][] = [
  ["log", "info"],
  ["info", "info"],
  ["debug", "debug"],
  ["warn", "warn"],
  ["error", "error"],
];
for (const [method, level] of consoleLevels) {
  (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
    log(level)(format(...args));
}

let nextCallId = 0;
const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
port.on("message", (message: ToWorker) => {
  const call = pending.get(message.callId);
  pending.delete(message.callId);
  if (!call) return;
  if (message.ok) call.resolve(message.value);
  else call.reject(new Error(message.error));
});

function runSubtask(task: string, args: unknown[]): Promise<unknown> {
  const callId = nextCallId++;
  return new Promise((resolve, reject) => {
    pending.set(callId, { resolve, reject });
    send({ type: "subtask", callId, task, args });
  });
}

try {
  const definition = tasksOf(await import(input.tasksModule)).get(input.task);
  if (!definition) throw new Error(`task ${input.task} is not defined in ${input.tasksModule}`);
  const context = { runId: input.runId, attempt: input.attempt, log: logger };
  const value = await taskRuntime.run({ context, runSubtask }, async () =>
    definition.run(...input.args),
  );
  send({ type: "done", ok: true, value: jsonValue(value) });
} catch (error) {
  send({ type: "done", ok: false, error: error instanceof Error ? error.message : String(error) });
}
port.close();

/** Results are stored and sent as JSON: anything else fails the attempt, clearly. */
function jsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new Error(`the task's result is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (text === undefined) throw new Error("the task's result is not JSON-serialisable");
  return JSON.parse(text);
}
