import { createServer } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Migration } from "../../src/db/migrate.js";
import { createLogger } from "../../src/logger.js";
import { createStore } from "../../src/store/index.js";
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import { describeUrl, MIGRATION_LOCK, openPostgresStore } from "../../src/store/postgres.js";
import {
  describePostgres,
  POSTGRES_ENGINE,
  type RunningPostgres,
  startPostgres,
} from "../helpers/postgres.js";
import { storeContract } from "./contract.js";

const logger = createLogger("silent");
let server: RunningPostgres;

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  return client;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const listener = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => listener.once("listening", resolve));
  const { port } = listener.address() as { port: number };
  await new Promise((resolve) => listener.close(resolve));
  return port;
}

describePostgres(
  `PostgreSQL store (${POSTGRES_ENGINE === "pglite" ? "PGlite" : "a real server"})`,
  () => {
    // One server for the file; each test starts from an empty schema.
    beforeAll(async () => {
      server = await startPostgres();
    }, 60_000);
    afterAll(() => server?.close());

    storeContract(async () => {
      const client = await connect();
      await client.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
      return {
        open: ({ migrations } = {}) => openPostgresStore({ url: server.url, logger, migrations }),
        sql: async <T>(text: string) => (await client.query(text)).rows as T[],
        variable: "DATABASE_URL",
        description: describeUrl(server.url).display,
        close: () => client.end(),
      };
    });

    it("is what createStore opens with DATABASE_URL, described without the password", async () => {
      const store = await createStore({
        databaseUrl: server.url,
        sqlitePath: "unused.sqlite",
        logger,
      });
      const { username, password, hostname, port, pathname } = new URL(server.url);
      expect(password.length).toBeGreaterThan(0);
      expect(store.kind).toBe("postgres");
      expect(store.describe()).toBe(
        `PostgreSQL postgres://${username}@${hostname}:${port}${pathname}`,
      );
      expect(store.describe()).not.toContain(password);
      await store.close();
    });

    it("names DATABASE_URL when the server cannot be reached, without the password", async () => {
      const port = await closedPort();
      const url = `postgresql://app:s3cret-pw@127.0.0.1:${port}/workflows?sslmode=disable`;
      const failure = createStore({ databaseUrl: url, sqlitePath: "unused.sqlite", logger });
      await expect(failure).rejects.toMatchObject({
        code: "ERR_STORE_UNREACHABLE",
        message: `DATABASE_URL: cannot connect to postgresql://app@127.0.0.1:${port}/workflows (connect ECONNREFUSED 127.0.0.1:${port})`,
      });
    });

    it("refuses a DATABASE_URL that is not a postgres URL, without echoing it", async () => {
      for (const url of ["mysql://u:pw@h/db", "not a url", "postgres//u:pw@h/db"]) {
        const failure = createStore({ databaseUrl: url, sqlitePath: "unused.sqlite", logger });
        await expect(failure).rejects.toMatchObject({
          code: "ERR_STORE_STARTUP",
          message: "DATABASE_URL: must be a postgres:// or postgresql:// URL",
        });
      }
    });

    it("describes any URL shape without credentials or query", () => {
      expect(describeUrl("postgres://u:p%40ss@db.internal/app?password=x")).toEqual({
        display: "postgres://u@db.internal:5432/app",
        password: "p@ss",
      });
      expect(describeUrl("postgresql://[::1]:6543/app")).toEqual({
        display: "postgresql://[::1]:6543/app",
      });
      expect(describeUrl("postgres:///app?host=/var/run/postgresql").display).toBe(
        "postgres:///var/run/postgresql:5432/app",
      );
    });

    /**
     * The advisory lock itself, which PGlite cannot show: behind its
     * multiplexer every connection is one session, so pg_advisory_lock never
     * blocks another connection, and a second transaction waits in the
     * multiplexer whether or not it would take the lock. Against a real server
     * (the postgres project) instance A is held inside its migration transaction
     * (its last migration waits on a lock this test holds), instance B is seen
     * waiting on the migration lock, then A is let go: B must find the work
     * done. Without the lock B would run CREATE TABLE owned_runs beside A's
     * uncommitted one and fail once A commits.
     */
    it.runIf(POSTGRES_ENGINE === "postgres")(
      "a second instance waits on the migration lock, then applies nothing",
      async () => {
        const client = await connect();
        await client.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        const gate = [4242, 4242] as const;
        const migrations: Migration[] = [
          ...MIGRATIONS,
          {
            version: 1001,
            name: "waits for the test",
            sql: {
              sqlite: "",
              postgres: `SELECT pg_advisory_lock(${gate[0]}, ${gate[1]}); SELECT pg_advisory_unlock(${gate[0]}, ${gate[1]})`,
            },
          },
        ];
        const waitingOn = async (key: readonly [number, number]) => {
          for (let i = 0; i < 500; i++) {
            const { rows } = await client.query(
              "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2",
              [...key],
            );
            if (rows[0].n > 0) return;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          throw new Error(`nothing came to wait on advisory lock ${key}`);
        };

        await client.query("SELECT pg_advisory_lock($1, $2)", [...gate]);
        const first = openPostgresStore({ url: server.url, logger, migrations });
        await waitingOn(gate);
        const second = openPostgresStore({ url: server.url, logger, migrations });
        await waitingOn(MIGRATION_LOCK);
        await client.query("SELECT pg_advisory_unlock($1, $2)", [...gate]);

        const stores = await Promise.all([first, second]);
        const { rows } = await client.query(
          "SELECT version FROM store_migrations ORDER BY version",
        );
        expect(rows.map((r) => Number(r.version))).toEqual([
          ...MIGRATIONS.map((m) => m.version),
          1001,
        ]);
        for (const store of stores) await store.close();
        await client.end();
      },
    );
  },
);
