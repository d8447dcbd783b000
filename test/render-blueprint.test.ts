import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError, loadConfig } from "../src/config.js";

interface EnvVar {
  key: string;
  value?: string;
  sync?: boolean;
  generateValue?: boolean;
  fromDatabase?: { name: string; property: string };
}
interface Service {
  type: string;
  name: string;
  runtime: string;
  plan?: string;
  region?: string;
  buildCommand: string;
  startCommand: string;
  healthCheckPath: string;
  envVars: EnvVar[];
}

const root = new URL("../", import.meta.url);
const blueprint = parse(readFileSync(new URL("render.yaml", root), "utf8")) as {
  services: Service[];
  databases?: Record<string, unknown>[];
};
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { main: string };
const [web] = blueprint.services;

/** The shape of a Render Postgres internal connection string: no port, host `dpg-…-a`. */
const INTERNAL_DATABASE_URL =
  "postgresql://workflows_mcp:generated-password@dpg-d0abc123def456ghi789-a/workflows_mcp";

/**
 * What Render's environment holds for the service: the Blueprint's values,
 * its databases' connection strings, the prompted values, its own.
 */
function renderEnvironment(prompted: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    RENDER_EXTERNAL_URL: "https://workflows-mcp.onrender.com",
    PORT: "10000",
  };
  for (const { key, value, fromDatabase, generateValue } of web?.envVars ?? []) {
    if (value !== undefined) env[key] = value;
    // Render generates a base64-encoded 256-bit value.
    if (generateValue) env[key] = "p6mG0hYl7Jc2v4nQ9sXw1Zr8tK3bE5fA0dH6uL2yM4o=";
    if (fromDatabase?.property === "connectionString") env[key] = INTERNAL_DATABASE_URL;
  }
  return { ...env, ...prompted };
}

const prompted: Record<string, string> = {
  AUTH_ISSUER: "https://auth.example.com",
  RENDER_API_KEY: "rnd_example",
  RENDER_WORKFLOW: "my-workflow",
};

describe("render.yaml", () => {
  it("describes a Node web service built and started the way package.json does", () => {
    expect(web).toMatchObject({
      type: "web",
      runtime: "node",
      plan: "starter",
      healthCheckPath: "/healthz",
      startCommand: `node ${pkg.main}`,
    });
    expect(web?.buildCommand).toBe("npm ci --include=dev && npm run build");
    expect(web?.envVars).toContainEqual({ key: "NODE_VERSION", value: "22" });
  });

  it("prompts for exactly the secrets production needs, and configures the rest", () => {
    const secrets = web?.envVars.filter((v) => v.sync === false).map((v) => v.key);
    expect(secrets).toEqual(["AUTH_ISSUER", "RENDER_API_KEY", "RENDER_WORKFLOW"]);

    const config = loadConfig(renderEnvironment(prompted));
    expect(config).toMatchObject({
      production: true,
      port: 10000,
      publicUrl: "https://workflows-mcp.onrender.com",
      resource: "https://workflows-mcp.onrender.com/mcp",
      workflows: {
        backend: "render",
        workflow: "my-workflow",
        apiUrl: "https://api.render.com/v1",
      },
    });

    for (const key of Object.keys(prompted)) {
      const { [key]: _omitted, ...rest } = prompted;
      expect(() => loadConfig(renderEnvironment(rest))).toThrow(ConfigError);
    }
  });

  it("declares a Render Postgres database and gives its connection string to the service as DATABASE_URL", () => {
    expect(blueprint.databases).toEqual([
      {
        name: "workflows-mcp-db",
        plan: "basic-256mb",
        postgresMajorVersion: "17",
        databaseName: "workflows_mcp",
        user: "workflows_mcp",
        ipAllowList: [],
      },
    ]);
    const wired = web?.envVars.filter((v) => v.key === "DATABASE_URL");
    expect(wired).toEqual([
      {
        key: "DATABASE_URL",
        fromDatabase: { name: "workflows-mcp-db", property: "connectionString" },
      },
    ]);
    // The internal URL resolves only in the database's region: the service's (default or not).
    expect(blueprint.databases?.[0]?.region).toBe(web?.region);
    // The server accepts the connection string Render provides.
    expect(renderEnvironment(prompted).DATABASE_URL).toBe(INTERNAL_DATABASE_URL);
    expect(() => loadConfig(renderEnvironment(prompted))).not.toThrow();
  });
});

describe("approvals on the Blueprint", () => {
  it("generates the one APPROVAL_SECRET every instance shares: naming APPROVAL_TASKS is all it takes", () => {
    expect(web?.envVars).toContainEqual({ key: "APPROVAL_SECRET", generateValue: true });
    const config = loadConfig({ ...renderEnvironment(prompted), APPROVAL_TASKS: "deploy" });
    expect(config.approvals).toMatchObject({
      ttlMinutes: 60,
      maxPendingPerCaller: 20,
      secret: "p6mG0hYl7Jc2v4nQ9sXw1Zr8tK3bE5fA0dH6uL2yM4o=",
    });
    expect(config.approvals?.policy.modeOf("deploy")).toBe("approver");
  });
});

describe("the Blueprint's workflow service", () => {
  const workflow = blueprint.services.find((s) => s.type === "workflow") as Service & {
    rootDir: string;
  };

  it("runs the tasks file the embedded engine runs, with Render's SDK and no plan", () => {
    expect(workflow).toMatchObject({
      name: "workflows-mcp-tasks",
      runtime: "node",
      rootDir: "examples/workflow",
      buildCommand: "npm install",
      startCommand: "node index.js",
    });
    expect(workflow.plan).toBeUndefined();
    const dir = new URL(`${workflow.rootDir}/`, root);
    const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as {
      type: string;
      main: string;
      dependencies: Record<string, string>;
    };
    expect(manifest).toMatchObject({ type: "module", main: "index.js" });
    expect(Object.keys(manifest.dependencies)).toEqual(["@renderinc/sdk"]);
    const source = readFileSync(new URL("index.js", dir), "utf8");
    expect(source).toContain('import { task } from "@renderinc/sdk/workflows";');
  });
});
