import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startTestIssuer, type TestIssuer } from "../helpers/issuer.js";
import { type RunningServer, startServer } from "../helpers/server.js";
import {
  connectClient,
  type McpTestClient,
  PUBLIC_URL,
  RESOURCE,
  type ToolResult,
} from "../helpers/stack.js";
import { type FakeOptions, type FakeRenderApi, startFakeRenderApi } from "./fake-render-api.js";

export const API_KEY = "rnd_test_key_9f2c41d7a0b3";

/**
 * The main client's scopes: runs seeded straight into the fake were started
 * outside the server, so seeing and cancelling them takes the `:all` scopes.
 */
export const RENDER_STACK_SCOPES = "workflows:read:all workflows:run workflows:cancel:all";

/** Per-stack databases (ownership records) live here, inside the repository, and go on close. */
const SCRATCH = fileURLToPath(new URL("../../.scratch/", import.meta.url));

export interface RenderStack {
  fake: FakeRenderApi;
  issuer: TestIssuer;
  server: RunningServer;
  client: McpTestClient;
  /** The bearer token the MCP client sends (never to be seen by Render). */
  token: string;
  call(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  /** Calls a tool asking for progress; resolves with the result and every notification. */
  callWithProgress(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ result: ToolResult; progress: { progress: number; message?: string }[] }>;
  /** Another client, e.g. another person (`sub`) with fewer scopes. */
  connect(scopes: string, claims?: Record<string, unknown>): Promise<McpTestClient>;
  close(): Promise<void>;
}

/** A server's environment for the render backend against `fake`, trusting `issuer`. */
export function renderEnv(
  fake: FakeRenderApi,
  issuer: TestIssuer,
  dbPath: string,
  databaseUrl?: string,
): Record<string, string> {
  return {
    PUBLIC_URL,
    AUTH_ISSUER: issuer.issuer,
    WORKFLOWS_BACKEND: "render",
    RENDER_API_URL: fake.url,
    RENDER_API_KEY: API_KEY,
    RENDER_WORKFLOW: fake.workflow.slug,
    LOCAL_DB_PATH: dbPath,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
}

/**
 * The fake Render API, a test issuer, and the real server (render backend)
 * between them, with a connected MCP client. `prepare` seeds the fake before
 * the server starts (it resolves the workflow once, at start).
 */
export async function startRenderStack(
  options: {
    fake?: FakeOptions;
    env?: Record<string, string | undefined>;
    prepare?: (fake: FakeRenderApi) => void;
  } = {},
): Promise<RenderStack> {
  const fake = await startFakeRenderApi({ apiKey: API_KEY, ...options.fake });
  options.prepare?.(fake);
  const issuer = await startTestIssuer({ audience: RESOURCE });
  const dir = `${SCRATCH}render-stack-${randomBytes(6).toString("hex")}`;
  mkdirSync(dir, { recursive: true });
  const server = await startServer({
    ...renderEnv(fake, issuer, `${dir}/ownership.sqlite`),
    ...options.env,
  });
  const clients: McpTestClient[] = [];
  const connect = async (scopes: string, claims: Record<string, unknown> = {}) => {
    const client = await connectClient(server.url, await issuer.sign({ scope: scopes, ...claims }));
    clients.push(client);
    return client;
  };
  const token = await issuer.sign({ scope: RENDER_STACK_SCOPES });
  const client = await connectClient(server.url, token);
  clients.push(client);
  return {
    fake,
    issuer,
    server,
    client,
    token,
    connect,
    call: (name, args = {}) => client.callTool(name, args),
    async callWithProgress(name, args) {
      const progress: { progress: number; message?: string }[] = [];
      const result = await client.callTool(name, args, { onprogress: (p) => progress.push(p) });
      return { result, progress };
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await server.stop();
      await issuer.close();
      rmSync(dir, { recursive: true, force: true });
      await fake.close();
    },
  };
}

export const textOf = (result: ToolResult) =>
  result.content.map((c) => (c.type === "text" ? (c.text ?? "") : "")).join("\n");
