import { readFileSync } from "node:fs";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { tools } from "../tools/index.js";
import { createApp } from "./app.js";
import { resourceMetadataUrl } from "./auth/metadata.js";
import { SCOPES } from "./auth/scopes.js";
import { createJwtVerifier } from "./auth/verifier.js";
import { banner } from "./banner.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createLogger, type Logger } from "./logger.js";
import { createBackend } from "./workflows/create.js";

const SHUTDOWN_GRACE_MS = 10_000;

/** Stops before anything starts, with one line per problem and no stack trace. */
function refuseToStart(problems: string[]): never {
  process.stderr.write(`workflows-mcp cannot start:\n${problems.map((p) => `  ${p}\n`).join("")}`);
  process.exit(1);
}

interface DevServer {
  issuer: string;
  close(): Promise<void>;
}

/** The configured issuer, or the embedded development one started for it. */
async function authorizationServer(
  config: Config,
  logger: Logger,
): Promise<{ issuer: string; devServer?: DevServer }> {
  if (config.auth.issuer) return { issuer: config.auth.issuer };
  // Loaded only here: oidc-provider never loads in production.
  const { startDevAuthorizationServer } = await import("./auth/dev/server.js");
  const devServer = await startDevAuthorizationServer({
    port: config.auth.devPort,
    accessTokenTtlSeconds: config.auth.devAccessTokenTtl,
    resource: config.resource,
    scopes: SCOPES,
    logger,
  }).catch((error: unknown) =>
    refuseToStart([
      `AUTH_DEV_PORT: the development authorization server did not start (${String(error)})`,
    ]),
  );
  return { issuer: devServer.issuer, devServer };
}

async function main() {
  // Validate before binding anything; read again once the port is bound (PORT=0 picks one).
  const configured = configOrExit();
  let handler: RequestListener = (_req, res) => {
    res.writeHead(503, { "Retry-After": "1" }).end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => {
    server.once("listening", resolve);
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        refuseToStart([`PORT: ${configured.port} is already in use on ${configured.host}`]);
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

  const backend = await createBackend(config.workflows, logger).catch((error: unknown) =>
    refuseToStart([error instanceof Error ? error.message : String(error)]),
  );
  const { issuer, devServer } = await authorizationServer(config, logger);
  const verifier = createJwtVerifier({ ...config.auth, issuer });
  await verifier.discover().catch((error: unknown) => {
    // A production issuer may be briefly unreachable: tokens get 503 until discovery succeeds.
    logger.warn(
      { issuer, reason: String(error) },
      "authorization server metadata not reachable yet",
    );
  });

  handler = createApp({ config, issuer, verifier, backend, tools, logger, version });
  logger.info(
    {
      port,
      resource: config.resource,
      issuer,
      jwksUrl: verifier.jwksUrl(),
      devIssuer: devServer?.issuer,
      backend: backend.describe(),
    },
    "listening",
  );
  process.stderr.write(
    banner(config, {
      version,
      listening: `http://${config.host}:${port}`,
      issuer,
      devAuthorizationServer: devServer !== undefined,
      backend: backend.describe(),
      resourceMetadataUrl: resourceMetadataUrl(config.resource),
    }),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.allSettled([backend.close(), devServer?.close()]);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
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
  process.stderr.write(
    `workflows-mcp failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
