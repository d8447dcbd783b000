import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Where `npm start` notes the server it started with its development
 * authorization server, in the working directory (as `workflows.sqlite`):
 * `npm run token` in another terminal then asks that server, whatever PORT
 * it was given, instead of guessing port 3000 and getting a token from some
 * other server, which this one refuses.
 */
export const RUNNING_SERVER_FILE = ".workflows-mcp-dev.json";

interface Record {
  pid: number;
  server: string;
}

const file = () => resolve(RUNNING_SERVER_FILE);

/** Notes `server` as this process's; returns what removes the note (if still this process's). */
export function noteRunningServer(server: string): () => void {
  const record: Record = { pid: process.pid, server };
  try {
    writeFileSync(`${file()}.${process.pid}`, JSON.stringify(record));
    renameSync(`${file()}.${process.pid}`, file());
  } catch {
    // A read-only directory: the token command falls back to PORT, as before.
    return () => {};
  }
  return () => {
    if (readNote()?.pid === process.pid) rmSync(file(), { force: true });
  };
}

/** The server noted in the working directory, if the process that noted it still runs. */
export function runningServer(): string | undefined {
  const record = readNote();
  if (!record) return undefined;
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  return record.server;
}

function readNote(): Record | undefined {
  try {
    const record = JSON.parse(readFileSync(file(), "utf8")) as Partial<Record>;
    return typeof record.pid === "number" && typeof record.server === "string"
      ? (record as Record)
      : undefined;
  } catch {
    return undefined;
  }
}
