import { randomBytes } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { describe, inject, it } from "vitest";
import type { ProvidedPostgres } from "./postgres-server.js";

export interface RunningPostgres {
  /** A postgres:// URL with a user and a password, as DATABASE_URL would carry. */
  url: string;
  /**
   * `pglite`: PostgreSQL compiled to WebAssembly, one backend behind a loopback
   * socket. `postgres`: a database of its own on a real server. See below for
   * what only the real one can show.
   */
  engine: "pglite" | "postgres";
  close(): Promise<void>;
}

/**
 * Every test that uses PostgreSQL runs twice, on two engines, from the same
 * file: vitest.config.ts puts each test file that calls startPostgres() in
 * two projects.
 *
 * - `tests` (with every other file): PGlite, nothing to install.
 * - `postgres`: a real PostgreSQL server, started once per test run by
 *   postgres-global-setup.ts — TEST_DATABASE_URL where set, else a throwaway
 *   Debian PostgreSQL on 127.0.0.1 (installed with apt-get on first use where
 *   we are root; postgres-server.ts). Where none can be had, that project's
 *   tests skip, each suite saying what to install.
 *
 * POSTGRES_ENGINE says which one this project's startPostgres() gives. In a
 * file of such tests, declare suites with these rather than `describe`:
 *
 * - describeEachStore("… (%s store)", (kind) => …): once per store, SQLite and
 *   PostgreSQL under PGlite; PostgreSQL only on the real server (SQLite has
 *   already run in `tests`).
 * - describePostgres(name, body): PostgreSQL only, on both engines.
 * - describeRealPostgres(name, body): the real server only — races, locks
 *   that block, anything that needs two transactions to overlap (see below:
 *   through PGlite they never do). Elsewhere one skipped test says where it
 *   runs. A single test can use `it.runIf(POSTGRES_ENGINE === "postgres")`.
 * - describeWithoutPostgres(name, body): a suite with no PostgreSQL in it,
 *   run in `tests` only (in `postgres` it would only repeat itself).
 *
 * `npx vitest run --project postgres test/x.test.ts` runs a file on the real
 * server alone; `--project tests` on PGlite alone.
 *
 * PGlite (PostgreSQL 18 in WebAssembly) sits behind
 * @electric-sql/pglite-socket on 127.0.0.1 and an ephemeral port. Its
 * multiplexer runs every connection on PGlite's single backend, one protocol
 * message at a time, and while one connection is inside a transaction block
 * it serves no other (their messages queue, even a new connection's startup).
 * So, through it: transactions never overlap (a second BEGIN waits in the
 * multiplexer, not on a lock), and code that waits on a second connection
 * from inside a transaction hangs; every connection is the same session (SET,
 * session advisory locks and prepared statements are shared, and
 * pg_advisory_lock never blocks another connection); statement_timeout is not
 * enforced, as a startup parameter or SET. A client that disconnects inside a
 * transaction is rolled back. Queries, constraints, types and transactional
 * DDL are real PostgreSQL.
 *
 * On the real server each startPostgres() creates a database of its own (so
 * files and tests running at once never meet) and drops it on close.
 */
const provided: ProvidedPostgres | undefined = inject("realPostgres");

/** Which PostgreSQL startPostgres() gives in this vitest project. */
export const POSTGRES_ENGINE: "pglite" | "postgres" = provided ? "postgres" : "pglite";

/** In the `postgres` project when no real server could be had: why, and what to install. */
export const POSTGRES_MISSING: string | undefined =
  provided && "missing" in provided ? provided.missing : undefined;

export type StoreKind = "sqlite" | "postgres";

/** In the `postgres` project without a server: the suite is one skipped test saying what to install. */
function skippedForMissing(name: string): boolean {
  if (POSTGRES_MISSING === undefined) return false;
  describe(name, () => {
    it.skip(`needs a real PostgreSQL: ${POSTGRES_MISSING}`, () => {});
  });
  return true;
}

/** describe.each over the stores this project tests: `%s` in `name` is the store. */
export function describeEachStore(name: string, body: (kind: StoreKind) => void): void {
  if (skippedForMissing(name.replace("%s", "postgres"))) return;
  const kinds: StoreKind[] = POSTGRES_ENGINE === "pglite" ? ["sqlite", "postgres"] : ["postgres"];
  describe.each(kinds)(name, body);
}

/** A suite on PostgreSQL, whichever engine this project has. */
export function describePostgres(name: string, body: () => void): void {
  if (skippedForMissing(name)) return;
  describe(name, body);
}

/** A suite that needs a real PostgreSQL server (two transactions that overlap): the `postgres` project only. */
export function describeRealPostgres(name: string, body: () => void): void {
  if (skippedForMissing(name)) return;
  if (POSTGRES_ENGINE === "postgres") {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it.skip("needs a real PostgreSQL (through PGlite transactions never overlap): runs in the postgres project", () => {});
  });
}

/** A suite with no PostgreSQL in it, in a file that has some: the `tests` project only. */
export function describeWithoutPostgres(name: string, body: () => void): void {
  (POSTGRES_ENGINE === "pglite" ? describe : describe.skip)(name, body);
}

/** A PostgreSQL the real `pg` driver talks to over TCP, as in production: this project's engine (above). */
export async function startPostgres(): Promise<RunningPostgres> {
  if (provided === undefined) return startPglite();
  if ("missing" in provided) throw new Error(`no real PostgreSQL: ${provided.missing}`);
  return createDatabase(provided.url);
}

async function startPglite(): Promise<RunningPostgres> {
  const db = await PGlite.create();
  // Several pools at once (one per store instance in a test, five connections each).
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 64 });
  await server.start();
  return {
    url: `postgres://postgres:pglite-password@${server.getServerConn()}/postgres`,
    engine: "pglite",
    async close() {
      await server.stop();
      await db.close();
    },
  };
}

async function createDatabase(serverUrl: string): Promise<RunningPostgres> {
  const name = `workflows_mcp_test_${randomBytes(6).toString("hex")}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    engine: "postgres",
    async close() {
      await withClient(serverUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
