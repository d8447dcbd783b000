import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consent, REDIRECT_URI, TestOAuthProvider } from "./helpers/oauth-client.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { postMcp, toolCall } from "./helpers/stack.js";

let server: RunningServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-oauth-"));
  server = await startServer({
    LOCAL_DB_PATH: join(dir, "runs.sqlite"),
    AUTH_DEV_ACCESS_TOKEN_TTL: "2",
  });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A client's first connection: the server's 401 sends it to authorize (provider.authorizationUrl). */
async function beginAuthorization(provider: TestOAuthProvider) {
  const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
    authProvider: provider,
  });
  await expect(
    new Client({ name: "e2e", version: "1.0.0" }).connect(transport),
  ).rejects.toBeInstanceOf(UnauthorizedError);
  return transport;
}

/** Connects as an MCP client with OAuth; when the server wants authorization, the test consents. */
async function connect(provider: TestOAuthProvider, choice: Parameters<typeof consent>[1] = {}) {
  const transport = await beginAuthorization(provider);
  const { redirect } = await consent(provider.authorizationUrl as URL, choice);
  await transport.finishAuth(redirect.searchParams.get("code") as string);
  const connected = new Client({ name: "e2e", version: "1.0.0" });
  const retry = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
    authProvider: provider,
  });
  await connected.connect(retry);
  return { client: connected, transport: retry };
}

describe("an MCP client authorizes itself from the 401 alone", () => {
  it("401 → PRM → AS metadata → registration → code with PKCE and resource → token → tools/call", async () => {
    const provider = new TestOAuthProvider();
    const { client } = await connect(provider);

    const url = provider.authorizationUrl as URL;
    expect(url.origin).toBe(server.devIssuer);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("resource")).toBe(server.mcpUrl);
    // the first 401's scope= is what the client asked for
    expect(url.searchParams.get("scope")).toBe("workflows:read workflows:run workflows:cancel");
    expect(provider.clientInformation()?.client_id).toEqual(expect.any(String));

    const claims = decodeJwt(provider.tokens()?.access_token as string);
    expect(claims).toMatchObject({
      iss: server.devIssuer,
      aud: server.mcpUrl,
      sub: "developer",
      scope: "workflows:read workflows:run workflows:cancel",
    });
    const result = (await client.callTool({
      name: "start_task_run",
      arguments: { task: "greet", input: ["Ada"], wait_seconds: 20 },
    })) as CallToolResult;
    expect(result.structuredContent).toMatchObject({
      run: { status: "succeeded", results: ["Hello, Ada!"] },
    });
    await client.close();
  });

  it("the consent page names the client and explains each scope", async () => {
    const provider = new TestOAuthProvider();
    await beginAuthorization(provider);
    const { page, redirect } = await consent(provider.authorizationUrl as URL, { deny: true });
    expect(page).toContain("E2E Test Client");
    expect(page).toContain("Development authorization server");
    expect(page).toContain("<code>workflows:run</code><small>Start task runs</small>");
    expect(page).toContain("<code>workflows:cancel</code><small>Cancel task runs</small>");
    expect(redirect.searchParams.get("error")).toBe("access_denied");
    expect(redirect.searchParams.get("code")).toBeNull();
  });
});

describe("step-up", () => {
  it("read-only consent, 403 insufficient_scope on start_task_run, re-authorize with the named scopes, retry succeeds", async () => {
    const provider = new TestOAuthProvider();
    const { client, transport } = await connect(provider, { scopes: ["workflows:read"] });
    expect(decodeJwt(provider.tokens()?.access_token as string).scope).toBe("workflows:read");

    const call = () =>
      client.callTool({
        name: "start_task_run",
        arguments: { task: "square", input: [7], wait_seconds: 20 },
      });
    await expect(call()).rejects.toBeInstanceOf(UnauthorizedError);
    const stepUp = provider.authorizationUrl as URL;
    // exactly what the 403 challenge named: the tool's scope plus the one already held
    expect(stepUp.searchParams.get("scope")).toBe("workflows:read workflows:run");

    const { redirect } = await consent(stepUp);
    await transport.finishAuth(redirect.searchParams.get("code") as string);
    expect(decodeJwt(provider.tokens()?.access_token as string).scope).toBe(
      "workflows:read workflows:run",
    );
    const result = (await call()) as CallToolResult;
    expect(result.structuredContent).toMatchObject({ run: { status: "succeeded", results: [49] } });
    await client.close();
  });
});

describe("what the authorization server and the resource refuse", () => {
  it("a tampered PKCE verifier gets invalid_grant", async () => {
    const provider = new TestOAuthProvider();
    await beginAuthorization(provider);
    const { redirect } = await consent(provider.authorizationUrl as URL);
    const res = await fetch(`${server.devIssuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: redirect.searchParams.get("code") as string,
        redirect_uri: REDIRECT_URI,
        client_id: provider.clientInformation()?.client_id as string,
        code_verifier: `${provider.codeVerifier()}tampered`,
        resource: server.mcpUrl,
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("a token minted for another resource is refused by this one", async () => {
    // A second MCP server trusting the same authorization server, under another resource identifier.
    const other = await startServer({
      AUTH_ISSUER: server.devIssuer,
      PUBLIC_URL: "http://other.test",
      LOCAL_DB_PATH: join(dir, "other.sqlite"),
    });
    try {
      const provider = new TestOAuthProvider();
      const { client } = await connect(provider);
      await client.close();
      const token = provider.tokens()?.access_token as string;
      expect(decodeJwt(token).aud).toBe(server.mcpUrl);
      const res = await postMcp(other.url, toolCall("whoami"), {
        authorization: `Bearer ${token}`,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain(
        'error_description="token audience is not this resource"',
      );
    } finally {
      await other.stop();
    }
  });

  it("a refresh token gets a new access token once the first expires", async () => {
    const provider = new TestOAuthProvider(["authorization_code", "refresh_token"]);
    const { client } = await connect(provider);
    const first = provider.tokens();
    expect(first?.refresh_token).toEqual(expect.any(String));
    // Access tokens live 2 s here; the server allows 5 s of clock skew.
    await new Promise((resolve) => setTimeout(resolve, 7_500));
    const expired = await postMcp(server.url, toolCall("whoami"), {
      authorization: `Bearer ${first?.access_token}`,
    });
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toContain('error_description="token expired"');

    // The client sees the same 401, refreshes, and retries on its own.
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as CallToolResult;
    expect(result.structuredContent).toMatchObject({ subject: "developer" });
    expect(provider.tokens()?.access_token).not.toBe(first?.access_token);
    await client.close();
  });
});
