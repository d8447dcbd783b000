import { z } from "zod";
import { type ApprovalPolicy, parseApprovalPolicy } from "./approvals/policy.js";
import { ASYMMETRIC_ALGORITHMS } from "./auth/algorithms.js";
import { VERIFIER_DEFAULTS } from "./auth/verifier.js";
import { LARGEST_RUN_BYTES } from "./http/answer-budget.js";
import { isLoopbackUrl } from "./http/loopback.js";
import { type TelemetrySettings, telemetrySettings } from "./telemetry/settings.js";
import { DEFAULT_MAX_ACTIVE_RUNS } from "./workflows/active-runs.js";
import {
  ENGINE_DEFAULTS,
  type EngineLimitsInput,
  MAX_RETENTION_DAYS,
  MAX_STORED_MB_PER_CALLER,
} from "./workflows/local/limits.js";

/** Two of the largest runs (answer-budget.ts): each caller may hold half the budget. */
const MIN_ANSWER_MB = Math.ceil((2 * LARGEST_RUN_BYTES) / 1024 / 1024);

const DEFAULT_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;
/** True for `production` in any case and with stray spaces: a casing slip must not start the development server. */
export const isProductionEnv = (nodeEnv: string | undefined): boolean =>
  nodeEnv?.trim().toLowerCase() === "production";

const list = (value: string) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

const httpUrl = z
  .string()
  .trim()
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
    message: "must be an absolute http(s) URL",
  });

/** A whole number within bounds; `0` where allowed means "off". */
const count = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ message: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be between ${min} and ${max}`)
    .max(max, `must be between ${min} and ${max}`)
    .default(fallback);

const RETENTION_RANGE = `must be between 0 (keep runs forever) and ${MAX_RETENTION_DAYS} days`;

const bool = z
  .enum(["true", "false", "1", "0"], { message: "must be true or false" })
  .transform((value) => value === "true" || value === "1");

const port = z.coerce
  .number({ message: "must be a number" })
  .int("must be a whole number")
  .min(0, "must be between 0 and 65535")
  .max(65535, "must be between 0 and 65535");

const Env = z.object({
  NODE_ENV: z.string().optional(),
  RENDER: z.string().optional(),
  PORT: port.default(3000),
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  PUBLIC_URL: httpUrl.optional(),
  RENDER_EXTERNAL_URL: httpUrl.optional(),
  AUTH_ISSUER: httpUrl.optional(),
  AUTH_JWKS_URL: httpUrl.optional(),
  AUTH_AUDIENCE: z.string().transform(list).optional(),
  AUTH_ALGORITHMS: z
    .string()
    .transform(list)
    .pipe(
      z
        .array(
          z.string().refine((alg) => ASYMMETRIC_ALGORITHMS.has(alg), {
            message: `only asymmetric algorithms are allowed (${[...ASYMMETRIC_ALGORITHMS].join(", ")})`,
          }),
        )
        .min(1, "must name at least one algorithm"),
    )
    .optional(),
  AUTH_SCOPE_CLAIM: z.string().trim().min(1).optional(),
  AUTH_MAX_TOKEN_LIFETIME_SECONDS: count(60, 31_536_000, VERIFIER_DEFAULTS.maxTokenLifetimeSeconds),
  AUTH_MAX_TOKEN_AGE_SECONDS: count(60, 31_536_000, VERIFIER_DEFAULTS.maxTokenAgeSeconds),
  AUTH_REQUIRE_AT_JWT: bool.default(false),
  AUTH_DEV_PORT: port.optional(),
  AUTH_DEV_ACCESS_TOKEN_TTL: z.coerce
    .number({ message: "must be a number of seconds" })
    .int("must be a whole number of seconds")
    .min(1, "must be at least 1 second")
    .max(86_400, "must be at most 86400 seconds")
    .default(600),
  WORKFLOWS_BACKEND: z
    .enum(["local", "render"], { message: "must be `local` or `render`" })
    .default("local"),
  LOCAL_DB_PATH: z.string().trim().min(1).default("workflows.sqlite"),
  LOCAL_TASKS_MODULE: z.string().trim().min(1).optional(),
  LOCAL_MAX_THREADS: count(1, 64, ENGINE_DEFAULTS.maxThreads),
  LOCAL_MAX_SUBTASK_DEPTH: count(0, 16, ENGINE_DEFAULTS.maxSubtaskDepth),
  LOCAL_WORKER_HEAP_MB: count(16, 16_384, ENGINE_DEFAULTS.workerHeapMb),
  LOCAL_MAX_PENDING_PER_CALLER: count(1, 100_000, ENGINE_DEFAULTS.maxPendingPerCaller),
  LOCAL_MAX_PENDING: count(1, 1_000_000, ENGINE_DEFAULTS.maxPending),
  LOCAL_RUN_RETENTION_DAYS: z.coerce
    .number({ message: "must be a number of days" })
    .min(0, RETENTION_RANGE)
    .max(MAX_RETENTION_DAYS, RETENTION_RANGE)
    .default(ENGINE_DEFAULTS.runRetentionDays),
  LOCAL_MAX_STORED_MB_PER_CALLER: count(
    0,
    MAX_STORED_MB_PER_CALLER,
    ENGINE_DEFAULTS.maxStoredMbPerCaller,
  ),
  MAX_ACTIVE_RUNS_PER_CALLER: count(0, 100_000, DEFAULT_MAX_ACTIVE_RUNS),
  RENDER_API_KEY: z.string().trim().min(1).optional(),
  RENDER_WORKFLOW: z.string().trim().min(1).optional(),
  RENDER_API_URL: httpUrl.default("https://api.render.com/v1"),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((value) => URL.canParse(value) && /^postgres(ql)?:$/.test(new URL(value).protocol), {
      message: "must be a postgres:// or postgresql:// URL",
    })
    .optional(),
  REDIS_URL: z
    .string()
    .trim()
    .refine((value) => URL.canParse(value) && /^rediss?:$/.test(new URL(value).protocol), {
      message: "must be a redis:// or rediss:// URL",
    })
    .optional(),
  APPROVAL_TASKS: z.string().optional(),
  APPROVAL_TTL_MINUTES: count(1, 10_080, 60),
  APPROVAL_MAX_PENDING_PER_CALLER: count(1, 10_000, 20),
  APPROVAL_WEBHOOK_URL: httpUrl.optional(),
  APPROVAL_CLIENT_ID: z.string().trim().min(1).max(2048).optional(),
  APPROVAL_CLIENT_SECRET: z.string().trim().min(1).max(2048).optional(),
  APPROVAL_SECRET: z
    .string()
    .trim()
    .min(32, "must be at least 32 characters (openssl rand -base64 32 makes one)")
    .max(1024)
    .optional(),
  RATE_LIMIT_REQUESTS_PER_MINUTE: count(0, 1_000_000, 600),
  RATE_LIMIT_RUNS_PER_MINUTE: count(0, 1_000_000, 60),
  RATE_LIMIT_CONCURRENT_PER_CALLER: count(0, 100_000, 20),
  TRUST_PROXY: z.coerce
    .number({ message: "must be a number of proxy hops" })
    .int("must be a whole number")
    .min(0, "must be between 0 and 10")
    .max(10, "must be between 0 and 10")
    .optional(),
  MAX_CONNECTIONS: count(1, 100_000, 1_000),
  MAX_ANSWER_MB_IN_FLIGHT: z.coerce
    .number({ message: "must be a number of megabytes" })
    .int("must be a whole number of megabytes")
    .min(
      MIN_ANSWER_MB,
      `must be at least ${MIN_ANSWER_MB}: one caller's half must hold the largest run (its 4 MB input and 4 MB result)`,
    )
    .max(1_000_000, "must be at most 1000000")
    .default(32),
  REQUEST_TIMEOUT_SECONDS: count(1, 600, 30),
  SHUTDOWN_GRACE_SECONDS: count(0, 3_600, 25),
  ALLOWED_HOSTS: z.string().transform(list).optional(),
  ALLOWED_ORIGINS: z.string().transform(list).optional(),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      message: "must be one of fatal, error, warn, info, debug, trace, silent",
    })
    .default("info"),
});

/**
 * Every variable of the server's own (the README's configuration table lists
 * exactly these); the standard OTEL_* ones it reads are TELEMETRY_VARIABLES.
 */
export const ENV_VARIABLES = Object.keys(Env.shape);

export interface Config {
  production: boolean;
  port: number;
  host: string;
  publicUrl: string;
  /** `$PUBLIC_URL/mcp`: the resource identifier tokens must be minted for (RFC 8707). */
  resource: string;
  /**
   * Without PUBLIC_URL and with the development authorization server: the
   * resource identifier under each loopback name (localhost, 127.0.0.1,
   * [::1]), each answered as itself (src/auth/loopback-resource.ts).
   */
  loopbackResources?: string[];
  auth: {
    /** Absent: the embedded development authorization server is started. */
    issuer?: string;
    jwksUrl?: string;
    audiences: string[];
    algorithms: string[];
    /** A claim holding scopes in addition to `scope`/`scp`, e.g. Auth0's `permissions`. */
    scopeClaim?: string;
    /** Longest accepted `exp − iat` (or `exp − now`). */
    maxTokenLifetimeSeconds: number;
    /** Oldest accepted `iat`. */
    maxTokenAgeSeconds: number;
    /** Refuse access tokens whose `typ` is not `at+jwt` (RFC 9068). */
    requireAtJwt: boolean;
    devPort: number;
    /** Lifetime of the development server's access tokens. */
    devAccessTokenTtl: number;
  };
  workflows:
    | { backend: "local"; dbPath: string; tasksModule?: string; limits: EngineLimitsInput }
    | {
        backend: "render";
        apiKey?: string;
        workflow: string;
        apiUrl: string;
        maxActiveRunsPerCaller: number;
      };
  /** Runs that need a person's approval (APPROVAL_TASKS); absent: none do. */
  approvals?: {
    policy: ApprovalPolicy;
    ttlMinutes: number;
    maxPendingPerCaller: number;
    webhookUrl?: string;
    /** The approval page's OAuth client at AUTH_ISSUER; absent: the published metadata document's URL. */
    clientId?: string;
    clientSecret?: string;
    /** Seals the page's session cookie and forms; absent (development only): random per start. */
    secret?: string;
  };
  /** PostgreSQL for ownership and the audit trail; absent: the SQLite file at LOCAL_DB_PATH. */
  databaseUrl?: string;
  /** The SQLite file: the embedded engine's runs, and ownership and audit without DATABASE_URL. */
  sqlitePath: string;
  limits: {
    /** Authorized requests per caller per minute; 0: off. */
    requestsPerMinute: number;
    /** Run starts per caller per minute; 0: off. */
    runsPerMinute: number;
    /** Requests per caller in flight at once (waits hold theirs up to 120 s); 0: off. */
    concurrentPerCaller: number;
    /** Shares limit counters between instances (Render Key Value); absent: per instance. */
    redisUrl?: string;
    /** Concurrent connections the HTTP server accepts. */
    maxConnections: number;
    /** Bytes of runs that answers in flight may hold, all callers together (answer-budget.ts). */
    answerBytesInFlight: number;
  };
  /** Proxy hops in front of the server whose X-Forwarded-For is trusted (client addresses). */
  trustProxy: number;
  /** How long a graceful stop lets running work finish. */
  shutdownGraceMs: number;
  /** How long a client may take to send a whole request (slow bodies are cut off). */
  requestTimeoutMs: number;
  /** Hostnames the Host header of /mcp may name; absent: any (ALLOWED_HOSTS=*). */
  allowedHosts?: string[];
  allowedOrigins: string[];
  logLevel: string;
  /** OpenTelemetry, from the standard OTEL_* variables (src/telemetry/settings.ts): off without an endpoint. */
  telemetry: TelemetrySettings;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/**
 * Reads the environment; throws ConfigError with one line per problem, naming
 * the variable. `boundPort` is the port actually bound when PORT=0, which the
 * default PUBLIC_URL (and so the resource identifier) is built from.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, boundPort?: number): Config {
  const parsed = Env.safeParse(env);
  const telemetry = telemetrySettings(env);
  if (!parsed.success) {
    throw new ConfigError([
      ...parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
      ...telemetry.problems,
    ]);
  }
  const e = parsed.data;
  const problems: string[] = [...telemetry.problems];
  const production = isProductionEnv(e.NODE_ENV);

  const port = e.PORT;
  const publicUrl = (
    e.PUBLIC_URL ??
    e.RENDER_EXTERNAL_URL ??
    `http://localhost:${boundPort ?? port}`
  ).replace(/\/+$/, "");
  const resource = `${publicUrl}/mcp`;
  const loopbackResources =
    e.PUBLIC_URL || e.RENDER_EXTERNAL_URL || e.AUTH_ISSUER
      ? undefined
      : ["localhost", "127.0.0.1", "[::1]"].map(
          (name) => `http://${name}:${boundPort ?? port}/mcp`,
        );

  if (production && !e.AUTH_ISSUER) {
    problems.push(
      "AUTH_ISSUER: required when NODE_ENV=production (the development authorization server never runs in production)",
    );
  }
  if (e.AUTH_JWKS_URL && !e.AUTH_ISSUER) {
    problems.push("AUTH_JWKS_URL: set only together with AUTH_ISSUER");
  }

  let workflows: Config["workflows"];
  if (e.WORKFLOWS_BACKEND === "render") {
    const apiUrl = e.RENDER_API_URL.replace(/\/+$/, "");
    // The Render CLI's local dev server (`render workflows dev`) needs no key.
    const loopbackApi = isLoopbackUrl(apiUrl);
    if (!e.RENDER_API_KEY && !loopbackApi) {
      problems.push(
        "RENDER_API_KEY: required with WORKFLOWS_BACKEND=render (create one under Account Settings → API Keys)",
      );
    }
    if (!e.RENDER_WORKFLOW) {
      problems.push(
        "RENDER_WORKFLOW: required with WORKFLOWS_BACKEND=render (the slug or id of the workflow to serve)",
      );
    }
    if (production && !e.DATABASE_URL) {
      problems.push(
        "DATABASE_URL: required with WORKFLOWS_BACKEND=render in production (who started which run must outlive an instance and be shared by all of them; the Blueprint sets it from its database)",
      );
    }
    workflows = {
      backend: "render",
      apiKey: e.RENDER_API_KEY,
      workflow: e.RENDER_WORKFLOW ?? "",
      apiUrl,
      maxActiveRunsPerCaller: e.MAX_ACTIVE_RUNS_PER_CALLER,
    };
  } else {
    if (e.LOCAL_MAX_SUBTASK_DEPTH >= e.LOCAL_MAX_THREADS) {
      problems.push(
        `LOCAL_MAX_SUBTASK_DEPTH: must be below LOCAL_MAX_THREADS (${e.LOCAL_MAX_THREADS}): a chain of subtasks holds one thread per level, and root runs need one more`,
      );
    }
    if (e.LOCAL_MAX_PENDING_PER_CALLER > e.LOCAL_MAX_PENDING) {
      problems.push(
        `LOCAL_MAX_PENDING_PER_CALLER: must be at most LOCAL_MAX_PENDING (${e.LOCAL_MAX_PENDING})`,
      );
    }
    workflows = {
      backend: "local",
      dbPath: e.LOCAL_DB_PATH,
      tasksModule: e.LOCAL_TASKS_MODULE,
      limits: {
        maxThreads: e.LOCAL_MAX_THREADS,
        maxSubtaskDepth: e.LOCAL_MAX_SUBTASK_DEPTH,
        workerHeapMb: e.LOCAL_WORKER_HEAP_MB,
        maxPendingPerCaller: e.LOCAL_MAX_PENDING_PER_CALLER,
        maxPending: e.LOCAL_MAX_PENDING,
        runRetentionDays: e.LOCAL_RUN_RETENTION_DAYS,
        maxStoredMbPerCaller: e.LOCAL_MAX_STORED_MB_PER_CALLER,
        maxActiveRunsPerCaller: e.MAX_ACTIVE_RUNS_PER_CALLER,
      },
    };
  }

  const approvals = approvalsConfig(e, production, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    production,
    port,
    host: e.HOST,
    publicUrl,
    resource,
    ...(loopbackResources ? { loopbackResources } : {}),
    auth: {
      // Exactly as given: it must equal the tokens' `iss` (Auth0's ends in a slash).
      issuer: e.AUTH_ISSUER,
      jwksUrl: e.AUTH_JWKS_URL,
      audiences: e.AUTH_AUDIENCE?.length ? e.AUTH_AUDIENCE : (loopbackResources ?? [resource]),
      algorithms: e.AUTH_ALGORITHMS ?? [...DEFAULT_ALGORITHMS],
      scopeClaim: e.AUTH_SCOPE_CLAIM,
      maxTokenLifetimeSeconds: e.AUTH_MAX_TOKEN_LIFETIME_SECONDS,
      maxTokenAgeSeconds: e.AUTH_MAX_TOKEN_AGE_SECONDS,
      requireAtJwt: e.AUTH_REQUIRE_AT_JWT,
      devPort: e.AUTH_DEV_PORT ?? (port === 0 ? 0 : port + 1),
      devAccessTokenTtl: e.AUTH_DEV_ACCESS_TOKEN_TTL,
    },
    workflows,
    ...(approvals ? { approvals } : {}),
    databaseUrl: e.DATABASE_URL,
    sqlitePath: e.LOCAL_DB_PATH,
    limits: {
      requestsPerMinute: e.RATE_LIMIT_REQUESTS_PER_MINUTE,
      runsPerMinute: e.RATE_LIMIT_RUNS_PER_MINUTE,
      concurrentPerCaller: e.RATE_LIMIT_CONCURRENT_PER_CALLER,
      redisUrl: e.REDIS_URL,
      maxConnections: e.MAX_CONNECTIONS,
      answerBytesInFlight: e.MAX_ANSWER_MB_IN_FLIGHT * 1024 * 1024,
    },
    // Render's proxy is one hop in front of the service.
    trustProxy: e.TRUST_PROXY ?? (e.RENDER ? 1 : 0),
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    requestTimeoutMs: e.REQUEST_TIMEOUT_SECONDS * 1000,
    allowedHosts: allowedHosts(e.ALLOWED_HOSTS, publicUrl),
    allowedOrigins: e.ALLOWED_ORIGINS?.length ? e.ALLOWED_ORIGINS : [new URL(publicUrl).origin],
    logLevel: e.LOG_LEVEL,
    telemetry: telemetry.settings,
  };
}

/** APPROVAL_*: undefined when no task needs approval (APPROVAL_TASKS empty), problems pushed. */
function approvalsConfig(
  e: z.infer<typeof Env>,
  production: boolean,
  problems: string[],
): Config["approvals"] {
  let policy: ApprovalPolicy;
  try {
    policy = parseApprovalPolicy(e.APPROVAL_TASKS);
  } catch (error) {
    problems.push(`APPROVAL_TASKS: ${(error as Error).message}`);
    return undefined;
  }
  if (!policy.any) return undefined;
  if (production && !e.APPROVAL_SECRET) {
    problems.push(
      "APPROVAL_SECRET: required with APPROVAL_TASKS in production, the same on every instance: it seals the approval page's sign-in (openssl rand -base64 32 makes one; the Blueprint generates it)",
    );
  }
  if (e.APPROVAL_CLIENT_SECRET && !e.APPROVAL_CLIENT_ID) {
    problems.push("APPROVAL_CLIENT_SECRET: set only together with APPROVAL_CLIENT_ID");
  }
  if (
    production &&
    e.APPROVAL_WEBHOOK_URL &&
    new URL(e.APPROVAL_WEBHOOK_URL).protocol !== "https:" &&
    !isLoopbackUrl(e.APPROVAL_WEBHOOK_URL)
  ) {
    problems.push(
      "APPROVAL_WEBHOOK_URL: must be an https:// URL in production (what it carries names people and tasks)",
    );
  }
  return {
    policy,
    ttlMinutes: e.APPROVAL_TTL_MINUTES,
    maxPendingPerCaller: e.APPROVAL_MAX_PENDING_PER_CALLER,
    ...(e.APPROVAL_WEBHOOK_URL ? { webhookUrl: e.APPROVAL_WEBHOOK_URL } : {}),
    ...(e.APPROVAL_CLIENT_ID ? { clientId: e.APPROVAL_CLIENT_ID } : {}),
    ...(e.APPROVAL_CLIENT_SECRET ? { clientSecret: e.APPROVAL_CLIENT_SECRET } : {}),
    ...(e.APPROVAL_SECRET ? { secret: e.APPROVAL_SECRET } : {}),
  };
}

/**
 * The Host names /mcp answers to (DNS-rebinding protection): PUBLIC_URL's and
 * loopback's (a rebinding page cannot make a browser send a loopback Host
 * name), plus ALLOWED_HOSTS — or none checked at all with ALLOWED_HOSTS=*,
 * for proxies that rewrite Host.
 */
function allowedHosts(configured: string[] | undefined, publicUrl: string): string[] | undefined {
  if (configured?.includes("*")) return undefined;
  const names = [
    new URL(publicUrl).hostname,
    "localhost",
    "127.0.0.1",
    "[::1]",
    ...(configured ?? []),
  ];
  return [...new Set(names.map((name) => name.toLowerCase()))];
}
