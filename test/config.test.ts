import { describe, expect, it } from "vitest";
import { runServerExpectingExit } from "./helpers/server.js";

/** An OTLP endpoint that is never reached: the server stops before it would export. */
const OTLP = "http://127.0.0.1:9";

describe("configuration errors stop the server with one line per problem", () => {
  it.each([
    [{ PORT: "http" }, "  PORT: must be a number"],
    [{ PORT: "70000" }, "  PORT: must be between 0 and 65535"],
    [{ AUTH_ISSUER: "not a url" }, "  AUTH_ISSUER: must be an absolute http(s) URL"],
    [{ PUBLIC_URL: "ftp://x" }, "  PUBLIC_URL: must be an absolute http(s) URL"],
    [
      { AUTH_ISSUER: "https://issuer.test", AUTH_ALGORITHMS: "RS256,HS256" },
      "  AUTH_ALGORITHMS.1: only asymmetric algorithms are allowed",
    ],
    [{ WORKFLOWS_BACKEND: "airflow" }, "  WORKFLOWS_BACKEND: must be `local` or `render`"],
    [
      { LOG_LEVEL: "loud" },
      "  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent",
    ],
    [
      { NODE_ENV: "production" },
      "  AUTH_ISSUER: required when NODE_ENV=production (the development authorization server never runs in production)",
    ],
    [
      { AUTH_JWKS_URL: "https://issuer.test/jwks" },
      "  AUTH_JWKS_URL: set only together with AUTH_ISSUER",
    ],
    [
      // A casing slip must not start the development authorization server.
      { NODE_ENV: "Production" },
      "  AUTH_ISSUER: required when NODE_ENV=production",
    ],
    [
      { DATABASE_URL: "mysql://db.test/workflows" },
      "  DATABASE_URL: must be a postgres:// or postgresql:// URL",
    ],
    [
      {
        NODE_ENV: "production",
        AUTH_ISSUER: "https://issuer.test",
        WORKFLOWS_BACKEND: "render",
        RENDER_API_KEY: "rnd_x",
        RENDER_WORKFLOW: "wf",
      },
      "  DATABASE_URL: required with WORKFLOWS_BACKEND=render in production",
    ],
    [{ REDIS_URL: "http://cache.test" }, "  REDIS_URL: must be a redis:// or rediss:// URL"],
    [
      { RATE_LIMIT_REQUESTS_PER_MINUTE: "-1" },
      "  RATE_LIMIT_REQUESTS_PER_MINUTE: must be between 0 and 1000000",
    ],
    [
      { RATE_LIMIT_CONCURRENT_PER_CALLER: "100001" },
      "  RATE_LIMIT_CONCURRENT_PER_CALLER: must be between 0 and 100000",
    ],
    [
      { LOCAL_MAX_THREADS: "2", LOCAL_MAX_SUBTASK_DEPTH: "2" },
      "  LOCAL_MAX_SUBTASK_DEPTH: must be below LOCAL_MAX_THREADS (2)",
    ],
    [
      { LOCAL_MAX_PENDING_PER_CALLER: "10", LOCAL_MAX_PENDING: "5" },
      "  LOCAL_MAX_PENDING_PER_CALLER: must be at most LOCAL_MAX_PENDING (5)",
    ],
    [{ AUTH_REQUIRE_AT_JWT: "yes" }, "  AUTH_REQUIRE_AT_JWT: must be true or false"],
    [
      { LOCAL_RUN_RETENTION_DAYS: "-1" },
      "  LOCAL_RUN_RETENTION_DAYS: must be between 0 (keep runs forever) and 36500 days",
    ],
    [
      { LOCAL_RUN_RETENTION_DAYS: "a month" },
      "  LOCAL_RUN_RETENTION_DAYS: must be a number of days",
    ],
    [
      { LOCAL_MAX_STORED_MB_PER_CALLER: "0.5" },
      "  LOCAL_MAX_STORED_MB_PER_CALLER: must be a whole number",
    ],
    [
      { LOCAL_MAX_STORED_MB_PER_CALLER: "2000000" },
      "  LOCAL_MAX_STORED_MB_PER_CALLER: must be between 0 and 1000000",
    ],
    [
      { APPROVAL_TASKS: "deploy=boss" },
      `  APPROVAL_TASKS: "deploy=boss": each entry is a task name or task=mode, mode approver or self`,
    ],
    [{ APPROVAL_TASKS: "deploy,deploy" }, `  APPROVAL_TASKS: "deploy" is listed twice`],
    [{ APPROVAL_TTL_MINUTES: "0" }, "  APPROVAL_TTL_MINUTES: must be between 1 and 10080"],
    [
      { APPROVAL_MAX_PENDING_PER_CALLER: "0" },
      "  APPROVAL_MAX_PENDING_PER_CALLER: must be between 1 and 10000",
    ],
    [
      { APPROVAL_WEBHOOK_URL: "hooks.test" },
      "  APPROVAL_WEBHOOK_URL: must be an absolute http(s) URL",
    ],
    [
      { APPROVAL_SECRET: "short" },
      "  APPROVAL_SECRET: must be at least 32 characters (openssl rand -base64 32 makes one)",
    ],
    [
      { APPROVAL_TASKS: "deploy", APPROVAL_CLIENT_SECRET: "x" },
      "  APPROVAL_CLIENT_SECRET: set only together with APPROVAL_CLIENT_ID",
    ],
    [
      { NODE_ENV: "production", AUTH_ISSUER: "https://issuer.test", APPROVAL_TASKS: "deploy" },
      "  APPROVAL_SECRET: required with APPROVAL_TASKS in production, the same on every instance: it seals the approval page's sign-in (openssl rand -base64 32 makes one; the Blueprint generates it)",
    ],
    [
      {
        NODE_ENV: "production",
        AUTH_ISSUER: "https://issuer.test",
        APPROVAL_TASKS: "deploy",
        APPROVAL_SECRET: "x".repeat(32),
        APPROVAL_WEBHOOK_URL: "http://hooks.example.com/x",
      },
      "  APPROVAL_WEBHOOK_URL: must be an https:// URL in production (what it carries names people and tasks)",
    ],
    // OpenTelemetry's standard variables, read when an endpoint is set (src/telemetry/settings.ts).
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318" },
      "  OTEL_EXPORTER_OTLP_ENDPOINT: must be an absolute http(s) URL (OTLP over HTTP)",
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      "  OTEL_EXPORTER_OTLP_PROTOCOL: must be http/protobuf or http/json (gRPC is not supported here)",
    ],
    [
      { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: OTLP, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http" },
      "  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: must be http/protobuf or http/json",
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP, OTEL_TRACES_EXPORTER: "zipkin" },
      "  OTEL_TRACES_EXPORTER: must be otlp or none (this server exports OTLP over HTTP only)",
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP, OTEL_TRACES_SAMPLER: "sometimes" },
      "  OTEL_TRACES_SAMPLER: must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
    ],
    [
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: OTLP,
        OTEL_TRACES_SAMPLER: "traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "2",
      },
      "  OTEL_TRACES_SAMPLER_ARG: must be a ratio from 0 to 1",
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP, OTEL_METRIC_EXPORT_INTERVAL: "0" },
      "  OTEL_METRIC_EXPORT_INTERVAL: must be a whole number of at least 1",
    ],
    [
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: OTLP,
        OTEL_METRIC_EXPORT_INTERVAL: "1000",
        OTEL_METRIC_EXPORT_TIMEOUT: "5000",
      },
      "  OTEL_METRIC_EXPORT_TIMEOUT: must be at most OTEL_METRIC_EXPORT_INTERVAL (1000)",
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: OTLP, OTEL_BSP_SCHEDULE_DELAY: "soon" },
      "  OTEL_BSP_SCHEDULE_DELAY: must be a whole number of at least 0",
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP, OTEL_EXPORTER_OTLP_HEADERS: "api-key" },
      "  OTEL_EXPORTER_OTLP_HEADERS: must be comma-separated key=value pairs",
    ],
  ])("%o", async (env, line) => {
    const { code, stdout, stderr } = await runServerExpectingExit(env);
    expect(code).toBe(1);
    expect(stderr.startsWith("workflows-mcp cannot start:\n")).toBe(true);
    expect(stderr.split("\n").some((l) => l.startsWith(line))).toBe(true);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe("");
  });

  it.each([
    [
      { LOCAL_TASKS_MODULE: "src/my-tasks.ts" },
      "  LOCAL_TASKS_MODULE: src/my-tasks.ts is TypeScript, which Node does not load here: build it with `npm run build` and set LOCAL_TASKS_MODULE=dist/src/my-tasks.js",
    ],
    [
      // Nothing listens there: the server refuses to start rather than run without shared limits.
      { REDIS_URL: "redis://127.0.0.1:1" },
      "  REDIS_URL: cannot connect to redis://127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1)",
    ],
    [
      { DATABASE_URL: "postgres://workflows:s3cret@127.0.0.1:1/db" },
      "  DATABASE_URL: cannot connect to postgres://workflows@127.0.0.1:1/db",
    ],
  ])(
    "start-up failure %o: one line naming the variable, no secret, no stack",
    async (env, line) => {
      const { code, stderr } = await runServerExpectingExit(env);
      expect(code).toBe(1);
      const block = stderr.slice(stderr.indexOf("workflows-mcp cannot start:\n"));
      expect(block.split("\n")[1]?.startsWith(line)).toBe(true);
      expect(stderr).not.toContain("s3cret");
      expect(stderr).not.toMatch(/\n\s+at /);
    },
  );

  it("lists every problem at once", async () => {
    const { code, stderr } = await runServerExpectingExit({
      PORT: "-1",
      WORKFLOWS_BACKEND: "x",
      LOG_LEVEL: "y",
    });
    expect(code).toBe(1);
    expect(stderr.trimEnd().split("\n")).toHaveLength(4);
  });
});
