import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Debian's Chromium for the browser tests (a test tool's own browser
 * download cannot work here). Installed on first use where we may (root,
 * apt); elsewhere the error says how to provide it.
 */
export function chromiumPath(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canInstall) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium package or set CHROMIUM_PATH`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore", env, timeout: 300_000 });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], {
    stdio: "ignore",
    env,
    timeout: 600_000,
  });
  return CHROMIUM;
}

/** Flags for a headless Chromium on a machine without outside network. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
