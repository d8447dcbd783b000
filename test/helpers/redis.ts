import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { canInstallDebianPackages, installDebianPackages } from "./debian.js";

const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? "/usr/bin/redis-server";
/** What to tell someone who has no redis-server. */
export const REDIS_MISSING = `redis-server not found at ${REDIS_SERVER}: install Debian's redis-server package (apt-get install redis-server) or set REDIS_SERVER_PATH`;

/**
 * Debian's redis-server for the shared rate-limit tests. Installed on first
 * use where we may (root, apt), like Chromium for the browser tests; returns
 * undefined when there is none and it cannot be installed (the tests then
 * skip, naming REDIS_MISSING).
 */
export function redisServerPath(): string | undefined {
  if (existsSync(REDIS_SERVER)) return REDIS_SERVER;
  if (!canInstallDebianPackages() || process.env.REDIS_SERVER_PATH) return undefined;
  try {
    // Without recommends: the server alone, not redis-tools' extras.
    installDebianPackages(["redis-server"]);
  } catch {
    return undefined;
  }
  return existsSync(REDIS_SERVER) ? REDIS_SERVER : undefined;
}

export interface RunningRedis {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Everything it printed. */
  output: string[];
  /** Stops it (SIGKILL: the way an outage looks to clients) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  child: ChildProcess;
}

/**
 * A throwaway redis-server on a loopback ephemeral port: no persistence, no
 * config file, gone when stopped. `port` reuses a port (to bring the same
 * server back after an outage).
 */
export async function startRedis(
  serverPath: string,
  options: { port?: number } = {},
): Promise<RunningRedis> {
  // redis-server cannot pick its own port (port 0 turns TCP off): take a free
  // one from the kernel and retry if someone else grabs it first.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(serverPath, port);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3) throw error;
    }
  }
}

async function launch(serverPath: string, port: number): Promise<RunningRedis> {
  const child = spawn(
    serverPath,
    [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--protected-mode",
      "yes",
      "--loglevel",
      "notice",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  const exited = once(child, "exit");
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output.push(...text.split("\n").filter(Boolean));
      if (text.includes("Ready to accept connections")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    exited.then(([code]) =>
      reject(
        new Error(`redis-server exited with ${code} before it was ready:\n${output.join("\n")}`),
      ),
    );
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server not ready after 10 s:\n${output.join("\n")}`));
    }, 10_000);
  });
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    output,
    child,
    async stop(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
