/**
 * The server assembled in this process, as src/main.ts assembles it (config
 * from an environment, the store, the embedded engine with the fixture
 * tasks, the verifier against a test issuer, the app) and listening on a
 * loopback port: for tests that compare the request path with parts of it
 * switched off (AppOptions.endpoint), which a spawned server cannot do.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { type AppOptions, createApp } from "../../src/app.js";
import { createAuditor } from "../../src/audit/auditor.js";
import { createJwtVerifier } from "../../src/auth/verifier.js";
import { loadConfig } from "../../src/config.js";
import { createRateLimits } from "../../src/http/rate-limit.js";
import { buildCatalogue } from "../../src/mcp/catalogue.js";
import { createStore } from "../../src/store/index.js";
import type { WorkflowBackend } from "../../src/workflows/backend.js";
import { createLocalBackend } from "../../src/workflows/local/index.js";
import { tools } from "../../tools/index.js";
import type { TestIssuer } from "./issuer.js";
import { FIXTURE_TASKS, PUBLIC_URL } from "./stack.js";

export interface InProcessServer {
  url: string;
  /** Requests its fast path answered so far. */
  fastPathAnswers(): number;
  close(): Promise<void>;
}

/** Apps over one engine and one store, each listening: one per set of endpoint switches. */
export async function startInProcess(
  issuer: TestIssuer,
  variants: NonNullable<AppOptions["endpoint"]>[],
): Promise<{ servers: InProcessServer[]; backend: WorkflowBackend; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "workflows-mcp-in-process-"));
  const config = loadConfig({
    PUBLIC_URL,
    AUTH_ISSUER: issuer.issuer,
    LOCAL_DB_PATH: join(dir, "runs.sqlite"),
    RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
    RATE_LIMIT_RUNS_PER_MINUTE: "0",
    RATE_LIMIT_CONCURRENT_PER_CALLER: "0",
  });
  const logger = pino({ level: "silent" });
  const store = await createStore({ sqlitePath: config.sqlitePath, logger });
  const backend: WorkflowBackend = await createLocalBackend({
    dbPath: config.sqlitePath,
    tasksModule: FIXTURE_TASKS,
    logger,
  });
  const verifier = createJwtVerifier({ ...config.auth, issuer: issuer.issuer, logger });
  await verifier.warmUp();
  const limits = await createRateLimits(config.limits, logger);
  const catalogue = buildCatalogue(tools, backend);
  const auditor = createAuditor(store, logger);
  const servers = await Promise.all(
    variants.map(async (endpoint) => {
      const { app, close, fastPathAnswers } = createApp({
        config,
        issuer: issuer.issuer,
        verifier,
        backend,
        catalogue,
        audit: store,
        auditor,
        limits,
        logger,
        version: "0.0.0-test",
        endpoint,
      });
      const server: Server = app.listen(0, "127.0.0.1");
      await new Promise((resolve) => server.once("listening", resolve));
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        fastPathAnswers,
        async close() {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
          await close();
        },
      };
    }),
  );
  return {
    servers,
    backend,
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await backend.close();
      await store.close();
      verifier.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
