import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { canInstallDebianPackages, installDebianPackages } from "./debian.js";

/** Where Debian's packages put each major version's server programs: /usr/lib/postgresql/<major>/bin. */
const DEBIAN_LIBDIR = "/usr/lib/postgresql";
/** What names a folder holding initdb and postgres, where they are not Debian's. */
const BIN_DIR_VARIABLE = "POSTGRES_BIN_DIR";

/** What to tell someone who has no PostgreSQL server to test against. */
export const POSTGRES_MISSING =
  `no PostgreSQL server programs (initdb, postgres) in ${process.env[BIN_DIR_VARIABLE] ?? `${DEBIAN_LIBDIR}/<major>/bin`}: ` +
  `install Debian's postgresql package (apt-get install postgresql), set ${BIN_DIR_VARIABLE} to a folder holding initdb and postgres, ` +
  "or set TEST_DATABASE_URL to a PostgreSQL server of yours (a superuser's postgres:// URL)";

const hasServer = (dir: string) =>
  existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres"));

/** The newest major version's bin folder under /usr/lib/postgresql, if any. */
function debianBinDir(): string | undefined {
  if (!existsSync(DEBIAN_LIBDIR)) return undefined;
  const majors = readdirSync(DEBIAN_LIBDIR)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return majors.map((major) => join(DEBIAN_LIBDIR, major, "bin")).find(hasServer);
}

/**
 * The folder of Debian's PostgreSQL server programs (initdb, postgres), for
 * the tests that run against a real server. Installed on first use where we
 * may (root, apt), as redis-server and Chromium are; undefined when there is
 * none and it cannot be installed (the tests then skip, naming
 * POSTGRES_MISSING). POSTGRES_BIN_DIR names another folder, and is never
 * installed into.
 */
export function postgresBinDir(): string | undefined {
  const configured = process.env[BIN_DIR_VARIABLE];
  if (configured) return hasServer(configured) ? configured : undefined;
  const found = debianBinDir();
  if (found) return found;
  if (!canInstallDebianPackages()) return undefined;
  try {
    // Without recommends: the server and its client, not the extras. Where
    // services may start (no policy-rc.d saying no), the package also starts
    // its own "main" cluster on port 5432; these tests never use it.
    installDebianPackages(["postgresql"]);
  } catch {
    return undefined;
  }
  return debianBinDir();
}

export interface RealPostgres {
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres: the superuser, over TCP with a password. */
  url: string;
  port: number;
  /** `postgres --version`, e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)". */
  version: string;
  /** Everything the server logged. */
  output: string[];
  /** Stops it (fast shutdown, then SIGKILL after 10 s) and removes its folder. */
  stop(): Promise<void>;
}

/** How long the server may take to accept connections before it is given up on. */
const STARTUP_MS = 30_000;

/**
 * A throwaway PostgreSQL server from `binDir`: a cluster made by initdb in a
 * temporary folder, listening on 127.0.0.1 and a free port only (its Unix
 * socket in that folder), every connection authenticated by password
 * (scram-sha-256) as the superuser `postgres`; durability off (fsync,
 * synchronous_commit, full_page_writes), as nothing outlives the test run.
 * As root (initdb and postgres refuse to run as root) both run as the
 * `postgres` system user that Debian's package creates, the folder handed to
 * it. Gone, folder and all, when stopped.
 */
export async function startRealPostgres(binDir: string): Promise<RealPostgres> {
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "workflows-mcp-postgres-"));
  const password = randomBytes(18).toString("base64url");
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    const passwordFile = join(dir, "password");
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user) chownSync(passwordFile, user.uid, user.gid);
    const data = join(dir, "data");
    run(binDir, "initdb", [
      "--pgdata",
      data,
      "--username",
      "postgres",
      "--pwfile",
      passwordFile,
      "--auth",
      "scram-sha-256",
      "--encoding",
      "UTF8",
      "--no-locale",
      "--no-sync",
      "--no-instructions",
    ]);
    rmSync(passwordFile);
    const version = run(binDir, "postgres", ["--version"]).trim();
    // postgres cannot pick its own port: take a free one from the kernel and
    // retry if someone else grabs it first.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return await launch({ binDir, dir, data, port, password, version, user });
      } catch (error) {
        if (attempt >= 3 || !(error instanceof PortTaken)) throw error;
      }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

interface User {
  uid: number;
  gid: number;
}

/** As root, the `postgres` system user to run the server as; otherwise nobody else (the server runs as us). */
function runAs(): User | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => {
    try {
      return Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    } catch {
      throw new Error(
        "running as root, and there is no postgres user to run PostgreSQL as (initdb and postgres refuse root): install Debian's postgresql package, which creates it, or run the tests as another user",
      );
    }
  };
  return { uid: id("-u"), gid: id("-g") };
}

/** A plain environment for the server's programs: messages in English, no inherited PG* settings. */
function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" };
}

function run(binDir: string, program: string, args: string[]): string {
  const user = runAs();
  try {
    return execFileSync(join(binDir, program), args, {
      encoding: "utf8",
      env: serverEnv(),
      cwd: tmpdir(),
      timeout: 60_000,
      stdio: ["ignore", "pipe", "pipe"],
      ...(user ?? {}),
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${program} ${args.join(" ")} failed: ${(error as Error).message}\n${stdout ?? ""}${stderr ?? ""}`,
    );
  }
}

class PortTaken extends Error {}

async function launch(options: {
  binDir: string;
  dir: string;
  data: string;
  port: number;
  password: string;
  version: string;
  user: User | undefined;
}): Promise<RealPostgres> {
  const { binDir, dir, data, port, password, version, user } = options;
  const settings = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: dir,
    // Several pools at once: each file's stores, servers and direct clients, two files at a time.
    max_connections: "200",
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    logging_collector: "off",
    log_destination: "stderr",
  };
  const child: ChildProcess = spawn(
    join(binDir, "postgres"),
    [
      "-D",
      data,
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: serverEnv(), cwd: dir, ...(user ?? {}) },
  );
  const output: string[] = [];
  const collect = (chunk: Buffer) =>
    output.push(...chunk.toString("utf8").split("\n").filter(Boolean));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = once(child, "exit");
  // Whatever ends this process (a test run killed, an uncaught error), the server goes with it.
  const killOnExit = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT: fast shutdown (clients disconnected, no checkpoint wait for them).
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + STARTUP_MS;
  let lastError = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener("exit", killOnExit);
      const log = output.join("\n");
      if (/could not bind|Address already in use/i.test(log)) throw new PortTaken(log);
      throw new Error(
        `PostgreSQL (${version}) exited with ${child.exitCode ?? child.signalCode} before it accepted connections:\n${log}`,
      );
    }
    try {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      return { url, port, version, output, stop };
    } catch (error) {
      lastError = (error as Error).message;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await stop();
  throw new Error(
    `PostgreSQL (${version}) did not accept connections on 127.0.0.1:${port} within ${STARTUP_MS / 1000} s (last error: ${lastError}); its log:\n${output.join("\n")}`,
  );
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

/** What the `postgres` project's global setup hands its tests (vitest's provide/inject). */
export type ProvidedPostgres =
  /** A server to create databases on: its superuser's URL, and what it is (for titles and logs). */
  | { url: string; server: string }
  /** None could be had: what to install. */
  | { missing: string };

declare module "vitest" {
  export interface ProvidedContext {
    /** Provided in the `postgres` project only (test/helpers/postgres-global-setup.ts). */
    realPostgres?: ProvidedPostgres;
  }
}
