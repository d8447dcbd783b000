import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

/** The test files that use PostgreSQL: those that call startPostgres() (test/helpers/postgres.ts). */
const TEST_DIR = fileURLToPath(new URL("./test/", import.meta.url));
const postgresFiles = readdirSync(TEST_DIR, { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".test.ts"))
  .filter((file) => readFileSync(`${TEST_DIR}${file}`, "utf8").includes("startPostgres("))
  .map((file) => `test/${file.split("\\").join("/")}`)
  .sort();

export default defineConfig({
  test: {
    // Each file starts its own servers on ephemeral ports; two cores, so two at a time.
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      {
        // Every file; PostgreSQL is PGlite here.
        test: {
          ...shared,
          name: "tests",
          include: ["test/**/*.test.ts"],
          exclude: ["test/load.test.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The files that use PostgreSQL once more, against a real server: one
        // started for the whole run by the global setup (Debian's
        // PostgreSQL, installed on first use where we are root; or
        // TEST_DATABASE_URL), each test on a database of its own. Alongside
        // `tests`, in the same two workers. See test/helpers/postgres.ts.
        test: {
          ...shared,
          name: "postgres",
          include: postgresFiles,
          globalSetup: ["test/helpers/postgres-global-setup.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The load test's liveness and memory bounds hold under load of its own making; it runs
        // last and alone, so another file's servers do not share its two cores.
        test: {
          ...shared,
          name: "load",
          include: ["test/load.test.ts"],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
