import { defineConfig } from "vitest/config";

const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

export default defineConfig({
  test: {
    // Each file starts its own servers on ephemeral ports; two cores, so two at a time.
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      {
        test: {
          ...shared,
          name: "tests",
          include: ["test/**/*.test.ts"],
          exclude: ["test/load.test.ts"],
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
