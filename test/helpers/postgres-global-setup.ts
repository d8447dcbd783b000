import type { TestProject } from "vitest/node";
import { POSTGRES_MISSING, postgresBinDir, startRealPostgres } from "./postgres-server.js";

/**
 * The `postgres` vitest project's global setup (vitest.config.ts): once per
 * test run, before any worker starts, a real PostgreSQL for every test of
 * that project — TEST_DATABASE_URL where set, else a throwaway server of
 * Debian's PostgreSQL (installed first where we are root with apt; see
 * postgres-server.ts), stopped when the run ends. It provides
 * `realPostgres` to the project's tests (test/helpers/postgres.ts reads it):
 * the server's URL, or why there is none, in which case that project's
 * tests skip saying so. A server that is there but will not start fails the
 * run, with its log.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    console.log("[postgres] the real-PostgreSQL tests use TEST_DATABASE_URL");
    project.provide("realPostgres", { url: external, server: "TEST_DATABASE_URL" });
    return;
  }
  const binDir = postgresBinDir();
  if (binDir === undefined) {
    console.warn(`[postgres] the real-PostgreSQL tests are skipped: ${POSTGRES_MISSING}`);
    project.provide("realPostgres", { missing: POSTGRES_MISSING });
    return;
  }
  const server = await startRealPostgres(binDir);
  console.log(`[postgres] ${server.version}, a throwaway cluster on 127.0.0.1:${server.port}`);
  project.provide("realPostgres", { url: server.url, server: server.version });
  return () => server.stop();
}
