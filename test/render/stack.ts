import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { startTestIssuer, type TestIssuer } from "../helpers/issuer.js";
import { type RunningServer, startServer } from "../helpers/server.js";
import { ALL_SCOPES, connectClient, PUBLIC_URL, RESOURCE } from "../helpers/stack.js";
import { type FakeOptions, type FakeRenderApi, startFakeRenderApi } from "./fake-render-api.js";

export const API_KEY = "rnd_test_key_9f2c41d7a0b3";

export interface RenderStack {
  fake: FakeRenderApi;
  issuer: TestIssuer;
  server: RunningServer;
  client: Client;
  /** The bearer token the MCP client sends (never to be seen by Render). */
  token: string;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls a tool asking for progress; resolves with the result and every notification. */
  callWithProgress(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ result: CallToolResult; progress: Progress[] }>;
  close(): Promise<void>;
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
  const server = await startServer({
    PUBLIC_URL,
    AUTH_ISSUER: issuer.issuer,
    WORKFLOWS_BACKEND: "render",
    RENDER_API_URL: fake.url,
    RENDER_API_KEY: API_KEY,
    RENDER_WORKFLOW: fake.workflow.slug,
    ...options.env,
  });
  const token = await issuer.sign({ scope: ALL_SCOPES });
  const client = await connectClient(server.url, token);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    fake,
    issuer,
    server,
    client,
    token,
    call,
    async callWithProgress(name, args) {
      const progress: Progress[] = [];
      const result = (await client.callTool({ name, arguments: args }, undefined, {
        onprogress: (p) => progress.push(p),
      })) as CallToolResult;
      return { result, progress };
    },
    async close() {
      await client.close().catch(() => {});
      await server.stop();
      await issuer.close();
      await fake.close();
    },
  };
}

export const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
