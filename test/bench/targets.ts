/**
 * The bench's targets, each its own process on loopback (so its memory is
 * its own): how to start one, when it counts as up (its first successful
 * tools/call), and its resident memory from /proc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isResult, REQUESTS } from "./requests.js";

export type TargetId =
  | "ours"
  | "traced"
  | "sampled"
  | "before"
  | "baseline"
  | "handler"
  | "ceiling";

export interface TargetSpec {
  id: TargetId;
  /** One line for the table. */
  label: string;
  script: string;
  env: Record<string, string>;
  /** Sent as Authorization on every request (ours only). */
  authorized: boolean;
  /** Whether it serves 2026-07-28 requests. */
  modern: boolean;
  /** Shown but not part of the targets (informational). */
  informational?: boolean;
}

export interface RunningTarget {
  spec: TargetSpec;
  url: string;
  pid: number;
  child: ChildProcess;
  /** Spawn to the first successful tools/call, in ms. */
  coldStartMs: number;
  /** The body of that first tools/call answer. */
  firstAnswer: string;
  output: string[];
  stop(): Promise<void>;
}

const dist = (path: string) => fileURLToPath(new URL(path, import.meta.url));
export const MAIN = dist("../../src/main.js");
export const BASELINE = dist("./baseline.js");
export const CEILING = dist("./ceiling.js");
export const FIXTURE_TASKS = dist("../fixtures/tasks.js");
export const PUBLIC_URL = "http://mcp.test";
export const RESOURCE = `${PUBLIC_URL}/mcp`;

/** A free loopback port (the OS's pick, released for the child to bind). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Spawns the target and polls tools/call list_tasks until one answers with a
 * result: spawn to that moment is its cold start (Node start, imports, engine
 * and database, issuer keys for ours, first request).
 */
export async function startTarget(
  spec: TargetSpec,
  options: {
    token?: string;
    nodeArgs?: string[];
    timeoutMs?: number;
    /** Every chunk the process writes (stdout and stderr), as it arrives. */
    onOutput?: (chunk: string) => void;
  } = {},
): Promise<RunningTarget> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${spec.id}-`));
  const output: string[] = [];
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), spec.script], {
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOCAL_DB_PATH: join(dir, "runs.sqlite"),
      LOCAL_TASKS_MODULE: FIXTURE_TASKS,
      ...spec.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      options.onOutput?.(chunk);
      if (output.length < 200) output.push(chunk);
    });
  }
  const exited = once(child, "exit");
  let exitCode: unknown;
  void exited.then(([code]) => {
    exitCode = code ?? "signal";
  });
  const url = `http://127.0.0.1:${port}`;
  const request = REQUESTS.listTasks;
  const headers = {
    ...request.headers,
    ...(spec.authorized && options.token ? { authorization: `Bearer ${options.token}` } : {}),
  };
  const deadline = started + (options.timeoutMs ?? 20_000);
  let firstAnswer = "";
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${spec.id} exited (${exitCode}) before answering:\n${output.join("")}`);
    }
    if (performance.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${spec.id} did not answer tools/call in time:\n${output.join("")}`);
    }
    try {
      const res = await fetch(`${url}/mcp`, { method: "POST", headers, body: request.body });
      const text = await res.text();
      if (res.status === 200 && isResult(text)) {
        firstAnswer = text;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  const coldStartMs = performance.now() - started;
  return {
    spec,
    url,
    pid: child.pid ?? 0,
    child,
    coldStartMs,
    firstAnswer,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A process's resident memory now (VmRSS) and its peak so far (VmHWM), in MB. */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1]);
    return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; keeps every sample with its time (performance.now()). */
export function sampleMemory(pid: number, everyMs = 200) {
  const samples: { atMs: number; rssMb: number }[] = [];
  const take = () => {
    const memory = memoryOf(pid);
    if (memory) samples.push({ atMs: performance.now(), rssMb: memory.rssMb });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    peakMb: () => Math.max(0, ...samples.map((s) => s.rssMb)),
    stop() {
      clearInterval(timer);
      take();
    },
  };
}
