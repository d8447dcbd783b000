import { randomBytes } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";

export interface RunningPostgres {
  /** A postgres:// URL with a user and a password, as DATABASE_URL would carry. */
  url: string;
  /**
   * `pglite`: PostgreSQL compiled to WebAssembly, one backend behind a loopback
   * socket. `postgres`: a real server, from TEST_DATABASE_URL. See below for
   * what only the real one can show.
   */
  engine: "pglite" | "postgres";
  close(): Promise<void>;
}

/**
 * A PostgreSQL the real `pg` driver talks to over TCP, as in production.
 *
 * By default PGlite (PostgreSQL 18 in WebAssembly) behind
 * @electric-sql/pglite-socket on 127.0.0.1 and an ephemeral port: nothing to
 * install. Its multiplexer runs every connection on PGlite's single backend,
 * one protocol message at a time, and while one connection is inside a
 * transaction block it serves no other (their messages queue, even a new
 * connection's startup). So, through it: transactions never overlap (a second
 * BEGIN waits in the multiplexer, not on a lock), and code that waits on a
 * second connection from inside a transaction hangs; every connection is the
 * same session (SET, session advisory locks and prepared statements are
 * shared, and pg_advisory_lock never blocks another connection);
 * statement_timeout is not enforced, as a startup parameter or SET. A client
 * that disconnects inside a transaction is rolled back. Queries, constraints,
 * types and transactional DDL are real PostgreSQL.
 *
 * With TEST_DATABASE_URL set (a server you run, e.g. Debian's PostgreSQL in
 * CI), each call creates a database of its own there instead, and drops it on
 * close: tests that need real concurrency (advisory locks that block) run
 * only then.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const external = process.env.TEST_DATABASE_URL;
  return external ? createDatabase(external) : startPglite();
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
