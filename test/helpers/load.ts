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
