import { existsSync } from "node:fs";
import { canInstallDebianPackages, installDebianPackages } from "./debian.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Debian's Chromium for the browser tests (a test tool's own browser
 * download cannot work here). Installed on first use where we may (root,
 * apt); elsewhere the error says how to provide it.
 */
export function chromiumPath(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (!canInstallDebianPackages()) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium package or set CHROMIUM_PATH`,
    );
  }
  // With recommends: the fonts a page needs to render.
  installDebianPackages(["chromium"], { recommends: true });
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
