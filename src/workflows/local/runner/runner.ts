import { once } from "node:events";
import { MessageChannel, type Worker } from "node:worker_threads";
import { Piscina } from "piscina";
import { builtModule } from "../../../built-module.js";
import type { LogLine } from "../../run.js";
import { IDLE_THREAD_MS, MAX_RESULT_BYTES } from "../limits.js";
import { timedOut } from "../transitions/reasons.js";
import { LogBudget, resultTooLarge } from "./bounds.js";
import { type AttemptInput, FromWorker, type SubtaskAnswer, type ToWorker } from "./protocol.js";

const WORKER = builtModule("./worker.js", import.meta.url);

export interface RunnerOptions {
  /** URL of the tasks module every attempt loads. */
  tasksModule: string;
  maxThreads: number;
  workerHeapMb: number;
}

export interface AttemptSpec {
  runId: string;
  attempt: number;
  task: string;
  argsJson: string;
  timeoutSeconds?: number;
}

export interface AttemptEvents {
  /** A line the attempt logged, already bounded. */
  log(line: LogLine): void;
  /** The attempt called ctx.run; `answer` settles that call (ignored once the attempt ended). */
  subtask(
    request: { task: string; argsJson: string },
    answer: (answer: SubtaskAnswer) => void,
  ): void;
}

export type AttemptOutcome =
  | { ok: true; resultsJson: string }
  /** `stopped`: ended by stop(), not by the task. */
  | { ok: false; error: string; stopped: boolean };

export interface AttemptHandle {
  /** Settles once, after every line the attempt logged was passed to `log`. Never rejects. */
  readonly outcome: Promise<AttemptOutcome>;
  /** Terminates the attempt's thread (cancellation, shutdown). */
  stop(): void;
}

/**
 * Runs attempts on a piscina pool of at most `maxThreads` threads, each with
 * a `workerHeapMb` heap. The scheduler hands out no more than maxThreads
 * attempts at once, so piscina never queues: an attempt gets a thread as it
 * starts. Stopping or timing out aborts the piscina task, which terminates
 * the thread (piscina starts a fresh one for the next attempt).
 */
export class AttemptRunner {
  private readonly pool: Piscina<AttemptInput, void>;
  private mostThreads = 0;

  constructor(private readonly options: RunnerOptions) {
    this.pool = new Piscina({
      filename: WORKER.href,
      minThreads: 0,
      maxThreads: options.maxThreads,
      idleTimeout: IDLE_THREAD_MS,
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb },
    });
  }

  /** Threads alive now, and the most alive at once (read from the pool itself). */
  stats(): { threads: number; mostThreads: number } {
    return { threads: this.pool.threads.length, mostThreads: this.mostThreads };
  }

  /** The pool's threads now (to watch one exit). */
  threads(): readonly Worker[] {
    return this.pool.threads;
  }

  start(spec: AttemptSpec, events: AttemptEvents): AttemptHandle {
    const { port1, port2 } = new MessageChannel();
    const abort = new AbortController();
    const budget = new LogBudget(spec.attempt);
    let stopping: "stopped" | "timeout" | undefined;
    const timer =
      spec.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            stopping ??= "timeout";
            abort.abort();
          }, spec.timeoutSeconds * 1000);
    let settle!: (outcome: AttemptOutcome) => void;
    let settled = false;
    const outcome = new Promise<AttemptOutcome>((resolve) => {
      settle = (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        port1.close();
        resolve(value);
      };
    });

    /** The thread running this attempt, once it said which. */
    let worker: Worker | undefined;
    port1.on("message", (raw: unknown) => {
      const parsed = FromWorker.safeParse(raw);
      if (settled || !parsed.success) return;
      const message = parsed.data;
      switch (message.type) {
        case "started":
          worker = this.pool.threads.find((w) => w.threadId === message.threadId);
          return;
        case "log":
          for (const line of budget.accept(message)) events.log(line);
          return;
        case "subtask":
          events.subtask({ task: message.task, argsJson: message.argsJson }, (answer) => {
            if (!settled)
              port1.postMessage({
                type: "subtask-done",
                callId: message.callId,
                ...answer,
              } satisfies ToWorker);
          });
          return;
        case "done":
          settle(doneOutcome(message));
          return;
      }
    });

    const input: AttemptInput = {
      tasksModule: this.options.tasksModule,
      task: spec.task,
      argsJson: spec.argsJson,
      runId: spec.runId,
      attempt: spec.attempt,
      port: port2,
    };
    // The worker's last message, "done", is the outcome: it comes after every log line on the same port.
    // Should the worker return without it, the outcome is settled once both ends are known.
    let returned = false;
    let portClosed = false;
    const noResult = () =>
      settle({ ok: false, error: "the task's worker ended without a result", stopped: false });
    port1.on("close", () => {
      portClosed = true;
      if (returned) noResult();
    });
    this.pool.run(input, { transferList: [port2], signal: abort.signal }).then(
      () => {
        returned = true;
        if (portClosed) noResult();
      },
      (error: Error) => {
        const outcome: AttemptOutcome =
          stopping === "stopped"
            ? { ok: false, error: "stopped", stopped: true }
            : stopping === "timeout"
              ? { ok: false, error: timedOut(spec.timeoutSeconds ?? 0), stopped: false }
              : { ok: false, error: `the task's worker stopped: ${error.message}`, stopped: false };
        // The thread was terminated (stopped, timed out, out of memory): the attempt ends, and
        // its thread slot frees, only once that thread has exited, so the pool's replacement
        // never runs beside it (threads and memory stay within maxThreads × heap).
        const exited =
          worker && worker.threadId !== -1 ? once(worker, "exit").then(noop, noop) : undefined;
        if (exited) void exited.then(() => settle(outcome));
        else settle(outcome);
      },
    );
    this.mostThreads = Math.max(this.mostThreads, this.pool.threads.length);

    return {
      outcome,
      stop: () => {
        if (settled) return;
        stopping ??= "stopped";
        abort.abort();
      },
    };
  }

  /** Terminates every thread and waits for them to exit. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

function doneOutcome(message: Extract<FromWorker, { type: "done" }>): AttemptOutcome {
  if (!message.ok) return { ok: false, error: message.error, stopped: false };
  // The worker checked already; this side is the one that stores it.
  const bytes = Buffer.byteLength(message.resultJson);
  if (bytes > MAX_RESULT_BYTES) return { ok: false, error: resultTooLarge(bytes), stopped: false };
  try {
    JSON.parse(message.resultJson);
  } catch {
    return { ok: false, error: "the task's result is not JSON", stopped: false };
  }
  return { ok: true, resultsJson: `[${message.resultJson}]` };
}

const noop = () => {};
