/** What the engine and a task's worker thread say to each other. */

export interface WorkerInput {
  tasksModule: string;
  task: string;
  args: unknown[];
  runId: string;
  attempt: number;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export type FromWorker =
  | { type: "log"; level: LogLevel; message: string; timestamp: string }
  | { type: "subtask"; callId: number; task: string; args: unknown[] }
  | { type: "done"; ok: true; value: unknown }
  | { type: "done"; ok: false; error: string };

export type ToWorker =
  | { type: "subtask-done"; callId: number; ok: true; value: unknown }
  | {
      type: "subtask-done";
      callId: number;
      ok: false;
      error: string;
    };
