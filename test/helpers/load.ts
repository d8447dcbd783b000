import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { type Era, MODERN } from "./stack.js";

/** What Linux says about a process now (`/proc/<pid>/status`). */
export interface ProcessSample {
  /** Resident memory now, in MB (VmRSS). */
  rssMb: number;
  /** The most resident memory the process has had since it started, in MB (VmHWM). */
  peakRssMb: number;
  /** OS threads of the process (its main thread, libuv's pool, V8's, worker threads). */
  threads: number;
}

export function sampleProcess(pid: number): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return {
    rssMb: field("VmRSS") / 1024,
    peakRssMb: field("VmHWM") / 1024,
    threads: field("Threads"),
  };
}

/**
 * Runs `count` jobs with at most `concurrency` in flight at once; resolves
 * once all ended. A job's rejection is the caller's to record: the pool
 * itself never stops early.
 */
export async function pool(
  count: number,
  concurrency: number,
  job: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await job(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** One tools/call as a client of `era` sends it over plain HTTP (no SDK, no session). */
export function toolCallInit(
  era: Era,
  token: string,
  name: string,
  args: Record<string, unknown>,
  id: number,
): RequestInit {
  const params: Record<string, unknown> = { name, arguments: args };
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${token}`,
  };
  if (era === "modern") {
    params._meta = {
      "io.modelcontextprotocol/protocolVersion": MODERN,
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": { name: "load", version: "1.0.0" },
    };
    headers["mcp-protocol-version"] = MODERN;
    headers["mcp-method"] = "tools/call";
    headers["mcp-name"] = name;
  }
  return {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params }),
  };
}

/** The one JSON-RPC message of an answer, whether sent as JSON or as one SSE event. */
export function singleMessage(contentType: string, text: string): Record<string, unknown> {
  if (contentType.startsWith("text/event-stream")) {
    const events = text.split("\n").filter((line) => line.startsWith("data: "));
    if (events.length !== 1) throw new Error(`expected one SSE event, got ${events.length}`);
    return JSON.parse((events[0] as string).slice("data: ".length));
  }
  if (!contentType.startsWith("application/json")) {
    throw new Error(`unexpected content-type ${contentType}`);
  }
  return JSON.parse(text);
}

/** Milliseconds since `start` (performance.now()), to a tenth. */
export const since = (start: number) => Math.round((performance.now() - start) * 10) / 10;

/** What a health watcher saw: each answer's latency, and anything but a 200. */
export interface HealthWatch {
  latencies: number[];
  failures: string[];
}

/**
 * Polls `${url}/healthz` every 50 ms from a process of its own (so the test's
 * own work — parsing large answers — cannot delay it), from when `ready`
 * resolves (its first answer, which loads fetch, is not counted) until `stop()`.
 */
export function watchHealth(url: string): { ready: Promise<void>; stop(): Promise<HealthWatch> } {
  const script = `
    const target = ${JSON.stringify(`${url}/healthz`)};
    const latencies = [], failures = [];
    let watching = true;
    process.stdin.on("data", () => { watching = false; });
    (async () => {
      await (await fetch(target)).arrayBuffer();
      process.stdout.write("ready\\n");
      while (watching) {
        const start = performance.now();
        try {
          const res = await fetch(target);
          await res.arrayBuffer();
          if (res.status !== 200) failures.push("HTTP " + res.status);
        } catch (error) { failures.push(String(error)); }
        latencies.push(Math.round((performance.now() - start) * 10) / 10);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      process.stdout.write(JSON.stringify({ latencies, failures }));
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  let output = "";
  let signal = () => {};
  const ready = new Promise<void>((resolve) => {
    signal = resolve;
  });
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
    if (output.startsWith("ready\n")) signal();
  });
  return {
    ready,
    async stop() {
      const exited = once(child, "exit");
      child.stdin.end("stop\n");
      await exited;
      return JSON.parse(output.slice("ready\n".length)) as HealthWatch;
    },
  };
}
