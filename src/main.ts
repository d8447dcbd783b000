import { readFileSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { tools } from "../tools/index.js";
import { createApp, SERVER_NAME } from "./app.js";
import { createApprovals } from "./approvals/create.js";
import { CLIENT_NAME, callbackUrls, pageClient } from "./approvals/page/client.js";
import { createAuditor } from "./audit/auditor.js";
import { resourceMetadataUrl } from "./auth/metadata.js";
import { createJwtVerifier } from "./auth/verifier.js";
import { banner } from "./banner.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { errorMessage } from "./error-message.js";
import { createRateLimits } from "./http/rate-limit.js";
import { createLogger, type Logger } from "./logger.js";
import { buildCatalogue } from "./mcp/catalogue.js";
import { checkSqliteBinding } from "./sqlite-binding.js";
import { createStore } from "./store/index.js";
import { startTelemetry } from "./telemetry/telemetry.js";
import { createBackend } from "./workflows/create.js";

/** How long a start waits for the issuer's keys before saying it listens (health says the rest). */
const KEYS_WARM_UP_MS = 3_000;

/** Stops before anything starts, with one line per problem and no stack trace. */
function refuseToStart(problems: string[]): never {
  process.stderr.write(`workflows-mcp cannot start:\n${problems.map((p) => `  ${p}\n`).join("")}`);
  process.exit(1);
}

interface DevServer {
  issuer: string;
  close(): Promise<void>;
}

/** Notes the running development server for `npm run token` (loaded only in development). */
async function noteForTokenCommand(config: Config): Promise<() => void> {
  const { noteRunningServer } = await import("./auth/dev/running-server.js");
  return noteRunningServer(config.publicUrl);
}

/** The configured issuer, or the embedded development one started for it. */
async function authorizationServer(
  config: Config,
  taskNames: string[],
  logger: Logger,
): Promise<{ issuer: string; devServer?: DevServer }> {
  if (config.auth.issuer) return { issuer: config.auth.issuer };
  // Loaded only here: oidc-provider never loads in production.
  const { startDevAuthorizationServer } = await import("./auth/dev/server.js");
  const devServer = await startDevAuthorizationServer({
    port: config.auth.devPort,
    accessTokenTtlSeconds: config.auth.devAccessTokenTtl,
    resource: config.resource,
    ...(config.loopbackResources ? { resources: config.loopbackResources } : {}),
    taskNames,
    approverTasks: config.approvals?.policy.approverTasks(taskNames) ?? [],
    ...(config.approvals && pageClient(config).kind === "dev"
      ? {
          approvalPageClient: {
            clientId: pageClient(config).clientId,
            clientName: CLIENT_NAME,
            redirectUris: callbackUrls(config),
          },
        }
      : {}),
    logger,
  }).catch((error: unknown) => refuseToStart([devServerFailure(config, error)]));
  return { issuer: devServer.issuer, devServer };
}

/** Why the development authorization server did not start, and how to change its port. */
function devServerFailure(config: Config, error: unknown): string {
  if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") {
    return `AUTH_DEV_PORT: the development authorization server did not start (${errorMessage(error)})`;
  }
  const port = config.auth.devPort;
  return process.env.AUTH_DEV_PORT === undefined
    ? `AUTH_DEV_PORT: port ${port} on 127.0.0.1 is already in use. The development authorization server's port defaults to PORT + 1 (${config.port} + 1): set AUTH_DEV_PORT to a free port, or PORT to a port whose next one is free too`
    : `AUTH_DEV_PORT: port ${port} on 127.0.0.1 is already in use: set AUTH_DEV_PORT to a free port (or leave it unset for PORT + 1)`;
}

/**
 * Bounds on the HTTP server itself: a client must send its headers within 15 s
 * and its whole request within REQUEST_TIMEOUT (slow-body clients are cut
 * off); responses may take longer (waits last up to 120 s).
 */
function boundServer(server: Server, config: Config) {
  server.headersTimeout = Math.min(15_000, config.requestTimeoutMs);
  server.requestTimeout = config.requestTimeoutMs;
  server.maxConnections = config.limits.maxConnections;
}

async function main() {
  // Validate before binding anything; read again once the port is bound (PORT=0 picks one).
  const configured = configOrExit();
  let handler: RequestListener = (_req, res) => {
    res.writeHead(503, { "Retry-After": "1" }).end();
  };
  const server = createServer(
    { connectionsCheckingInterval: Math.min(1_000, configured.requestTimeoutMs) },
    (req, res) => handler(req, res),
  );
  boundServer(server, configured);
  await new Promise<void>((resolve) => {
    server.once("listening", resolve);
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        refuseToStart([
          `PORT: ${configured.port} is already in use on ${configured.host}: stop what uses it, or set PORT to a free port`,
        ]);
      }
      refuseToStart([
        `HOST/PORT: cannot listen on ${configured.host}:${configured.port} (${error.message})`,
      ]);
    });
    server.listen(configured.port, configured.host);
  });
  const { port } = server.address() as AddressInfo;
  const config = configOrExit(port);

  const logger = createLogger(config.logLevel);
  const { version } = JSON.parse(
    readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
  );
  process.on("unhandledRejection", (reason) =>
    logger.error({ err: reason }, "unhandled rejection"),
  );
  // Off without an OTLP endpoint: then no OpenTelemetry package is loaded.
  const telemetry = await startTelemetry(config.telemetry, {
    name: SERVER_NAME,
    version,
    backend: config.workflows.backend,
  });

  // What can refuse to start does so before anything else runs.
  if (!config.databaseUrl || config.workflows.backend === "local") {
    try {
      checkSqliteBinding();
    } catch (error) {
      refuseToStart([errorMessage(error)]);
    }
  }
  const limits = await createRateLimits(config.limits, logger).catch((error: unknown) =>
    refuseToStart([errorMessage(error)]),
  );
  const store = await createStore({
    databaseUrl: config.databaseUrl,
    sqlitePath: config.sqlitePath,
    logger,
  }).catch((error: unknown) => refuseToStart([errorMessage(error)]));
  const backend = await createBackend(config.workflows, {
    logger,
    ownership: store,
    telemetry,
  }).catch((error: unknown) => refuseToStart([errorMessage(error)]));
  const taskNames = (await backend.listTasks().catch(() => [])).map((task) => task.name);
  const { issuer, devServer } = await authorizationServer(config, taskNames, logger);
  const verifier = createJwtVerifier({
    ...config.auth,
    issuer,
    logger,
    telemetry: telemetry.tokens,
    // What an operator fixes when the issuer cannot be reached (the development server has none).
    ...(config.auth.issuer
      ? {
          settings: {
            issuer: "AUTH_ISSUER",
            ...(config.auth.jwksUrl ? { jwksUrl: "AUTH_JWKS_URL" } : {}),
          },
        }
      : {}),
  });
  const warm = verifier.warmUp();
  await Promise.race([warm, sleep(KEYS_WARM_UP_MS)]);

  const auditor = createAuditor(store, logger);
  const approvals = createApprovals(config, {
    store: store.approvals,
    backend,
    auditor,
    logger,
    telemetry,
  });
  const app = createApp({
    config,
    issuer,
    verifier,
    backend,
    catalogue: buildCatalogue(tools, backend, config.approvals?.policy),
    audit: store,
    auditor,
    ...(approvals ? { approvals: approvals.approvals } : {}),
    limits,
    logger,
    version,
    telemetry,
  });
  handler = app.app;
  const forgetNote = devServer ? await noteForTokenCommand(config) : () => {};
  const health = verifier.health();
  logger.info(
    {
      port,
      resource: config.resource,
      issuer,
      jwksUrl: verifier.jwksUrl(),
      devIssuer: devServer?.issuer,
      backend: backend.describe(),
      store: store.describe(),
      health: health.state,
      telemetry: describeTelemetry(config),
    },
    "listening",
  );
  process.stderr.write(
    banner(config, {
      version,
      listening: `${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
      issuer,
      devAuthorizationServer: devServer !== undefined,
      backend: backend.describe(),
      store: store.describe(),
      limits: limits.describe(),
      telemetry: describeTelemetry(config),
      health,
      keysFailure: verifier.lastFailure(),
      resourceMetadataUrl: resourceMetadataUrl(config.resource),
    }),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    forgetNote();
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
    // Stop accepting; let requests in flight (waits included) end within the grace period.
    const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
    force.unref();
    server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Running work gets the same grace to finish; what does not is picked up at the next start.
    await Promise.allSettled([closed, backend.close({ graceMs: config.shutdownGraceMs })]);
    await approvals?.close();
    await Promise.allSettled([
      app.close(),
      store.close(),
      limits.close(),
      devServer?.close(),
      Promise.resolve(verifier.close()),
    ]);
    // Last: what the requests and runs above recorded is exported before the process ends.
    await telemetry.shutdown();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** What is exported, in one word per signal, for the log line that says the server listens. */
function describeTelemetry({ telemetry }: Config): string {
  const on = [
    ...(telemetry.traces ? [`traces (${telemetry.traces.protocol})`] : []),
    ...(telemetry.metrics ? [`metrics (${telemetry.metrics.protocol})`] : []),
  ];
  return on.length > 0 ? `OpenTelemetry: ${on.join(", ")}` : "off";
}

function configOrExit(boundPort?: number): Config {
  try {
    return loadConfig(process.env, boundPort);
  } catch (error) {
    if (error instanceof ConfigError) refuseToStart(error.problems);
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`workflows-mcp failed to start: ${errorMessage(error)}\n`);
  process.exit(1);
});
