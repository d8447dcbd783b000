import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));

export interface RunningServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The MCP endpoint, which is also the resource identifier. */
  mcpUrl: string;
  port: number;
  /** Issuer of the embedded development authorization server, when it runs. */
  devIssuer?: string;
  /** Every stdout and stderr line so far. */
  output: string[];
  /** Parsed JSON log lines from stdout so far. */
  logs: Record<string, unknown>[];
  /** Stops the process (SIGTERM by default; SIGKILL to simulate a crash) and waits for it. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  child: ChildProcess;
}

/**
 * Starts the built server (`dist/src/main.js`) as its own process on an
 * ephemeral loopback port, and resolves once it logs that it is listening.
 */
export async function startServer(
  env: Record<string, string | undefined> = {},
  options: { cwd?: string } = {},
): Promise<RunningServer> {
  const child = spawn(process.execPath, [MAIN], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: "0",
      AUTH_DEV_PORT: "0",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const exited = once(child, "exit").then(([code]) => code as number | null);

  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    const onLine = (line: string, fromStdout: boolean) => {
      output.push(line);
      if (!fromStdout || !line.startsWith("{")) return;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        logs.push(record);
        if (record.msg === "listening") resolve(record);
      } catch {
        // a partial or non-JSON line: kept in output only
      }
    };
    pipeLines(child.stdout, (line) => onLine(line, true));
    pipeLines(child.stderr, (line) => onLine(line, false));
    exited.then((code) =>
      reject(new Error(`server exited with ${code} before listening:\n${output.join("\n")}`)),
    );
  });
  const ready = await withTimeout(listening, 20_000, () => output.join("\n"));
  const port = Number(ready.port);
  return {
    url: `http://127.0.0.1:${port}`,
    mcpUrl: String(ready.resource),
    port,
    devIssuer: typeof ready.devIssuer === "string" ? ready.devIssuer : undefined,
    output,
    logs,
    child,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the server expecting it to refuse to start; resolves with its exit code and output. */
export async function runServerExpectingExit(
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, HOST: "127.0.0.1", PORT: "0", AUTH_DEV_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const [code] = await withTimeout(
    once(child, "exit"),
    15_000,
    () => stdout + stderr,
    () => child.kill("SIGKILL"),
  );
  return { code: code as number | null, stdout, stderr };
}

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void) {
  let buffer = "";
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
    }
  });
}

async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  describe: () => string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`timed out after ${ms} ms:\n${describe()}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
