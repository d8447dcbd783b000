import { z } from "zod";
import { isLoopbackUrl } from "./http/loopback.js";

const DEFAULT_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;
/** Asymmetric JWS algorithms only: a symmetric alg would let anyone holding the public key sign. */
const ASYMMETRIC_ALGORITHMS = new Set([
  ...["RS", "PS"].flatMap((p) => ["256", "384", "512"].map((n) => `${p}${n}`)),
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

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

const port = z.coerce
  .number({ message: "must be a number" })
  .int("must be a whole number")
  .min(0, "must be between 0 and 65535")
  .max(65535, "must be between 0 and 65535");

const Env = z.object({
  NODE_ENV: z.string().optional(),
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
  RENDER_API_KEY: z.string().trim().min(1).optional(),
  RENDER_WORKFLOW: z.string().trim().min(1).optional(),
  RENDER_API_URL: httpUrl.default("https://api.render.com/v1"),
  ALLOWED_ORIGINS: z.string().transform(list).optional(),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      message: "must be one of fatal, error, warn, info, debug, trace, silent",
    })
    .default("info"),
});

export interface Config {
  production: boolean;
  port: number;
  host: string;
  publicUrl: string;
  /** `$PUBLIC_URL/mcp`: the resource identifier tokens must be minted for (RFC 8707). */
  resource: string;
  auth: {
    /** Absent: the embedded development authorization server is started. */
    issuer?: string;
    jwksUrl?: string;
    audiences: string[];
    algorithms: string[];
    /** A claim holding scopes in addition to `scope`/`scp`, e.g. Auth0's `permissions`. */
    scopeClaim?: string;
    devPort: number;
    /** Lifetime of the development server's access tokens. */
    devAccessTokenTtl: number;
  };
  workflows:
    | { backend: "local"; dbPath: string; tasksModule?: string }
    | { backend: "render"; apiKey?: string; workflow: string; apiUrl: string };
  allowedOrigins: string[];
  logLevel: string;
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
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === "production";

  const port = e.PORT;
  const publicUrl = (
    e.PUBLIC_URL ??
    e.RENDER_EXTERNAL_URL ??
    `http://localhost:${boundPort ?? port}`
  ).replace(/\/+$/, "");
  const resource = `${publicUrl}/mcp`;

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
    workflows = {
      backend: "render",
      apiKey: e.RENDER_API_KEY,
      workflow: e.RENDER_WORKFLOW ?? "",
      apiUrl,
    };
  } else {
    workflows = { backend: "local", dbPath: e.LOCAL_DB_PATH, tasksModule: e.LOCAL_TASKS_MODULE };
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    production,
    port,
    host: e.HOST,
    publicUrl,
    resource,
    auth: {
      // Exactly as given: it must equal the tokens' `iss` (Auth0's ends in a slash).
      issuer: e.AUTH_ISSUER,
      jwksUrl: e.AUTH_JWKS_URL,
      audiences: e.AUTH_AUDIENCE?.length ? e.AUTH_AUDIENCE : [resource],
      algorithms: e.AUTH_ALGORITHMS ?? [...DEFAULT_ALGORITHMS],
      scopeClaim: e.AUTH_SCOPE_CLAIM,
      devPort: e.AUTH_DEV_PORT ?? (port === 0 ? 0 : port + 1),
      devAccessTokenTtl: e.AUTH_DEV_ACCESS_TOKEN_TTL,
    },
    workflows,
    allowedOrigins: e.ALLOWED_ORIGINS?.length ? e.ALLOWED_ORIGINS : [new URL(publicUrl).origin],
    logLevel: e.LOG_LEVEL,
  };
}
