import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { UnauthorizedError as LegacyUnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consent, REDIRECT_URI, TestOAuthProvider } from "./helpers/oauth-client.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { ERAS, type Era, MODERN, postMcp, type ToolResult, toolCall } from "./helpers/stack.js";

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

/** An MCP client that authorizes itself with OAuth, on either era's SDK. */
function oauthClient(era: Era, provider: TestOAuthProvider) {
  const url = new URL(server.mcpUrl);
  const info = { name: "e2e", version: "1.0.0" };
  if (era === "modern") {
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    const client = new Client(info, { versionNegotiation: { mode: { pin: MODERN } } });
    return {
      unauthorized: UnauthorizedError as unknown as new (...args: never[]) => Error,
      connect: () => client.connect(transport),
      // RFC 9207: the v2 client checks the redirect's `iss` against the issuer it recorded.
      finishAuth: (redirect: URL) => transport.finishAuth(redirect.searchParams),
      callTool: async (name: string, args: Record<string, unknown> = {}) =>
        (await client.callTool({ name, arguments: args })) as ToolResult,
      close: () => client.close(),
    };
  }
  // The v1 SDK's client, as 2025-era clients in the field are.
  const transport = new LegacyTransport(url, {
    authProvider: provider as unknown as ConstructorParameters<typeof LegacyTransport>[1] extends
      | { authProvider?: infer P }
      | undefined
      ? P
      : never,
  });
  const client = new LegacyClient(info);
  return {
    unauthorized: LegacyUnauthorizedError as unknown as new (...args: never[]) => Error,
    connect: () => client.connect(transport),
    finishAuth: (redirect: URL) =>
      transport.finishAuth(redirect.searchParams.get("code") as string),
    callTool: async (name: string, args: Record<string, unknown> = {}) =>
      (await client.callTool({ name, arguments: args })) as ToolResult,
    close: () => client.close(),
  };
}

/** A client's first connection: the server's 401 sends it to authorize (provider.authorizationUrl). */
async function beginAuthorization(era: Era, provider: TestOAuthProvider) {
  const session = oauthClient(era, provider);
  await expect(session.connect()).rejects.toBeInstanceOf(session.unauthorized);
  return session;
}

/** Connects as an MCP client with OAuth; when the server wants authorization, the test consents. */
async function connect(
  era: Era,
  provider: TestOAuthProvider,
  choice: Parameters<typeof consent>[1] = {},
) {
  const first = await beginAuthorization(era, provider);
  const { redirect } = await consent(provider.authorizationUrl as URL, choice);
  await first.finishAuth(redirect);
  const session = oauthClient(era, provider);
  await session.connect();
  return session;
}

/** Calls a tool the token does not cover: the 403 sends the client to step up; the test consents; the retry succeeds. */
async function stepUp(
  session: ReturnType<typeof oauthClient>,
  provider: TestOAuthProvider,
  name: string,
  args: Record<string, unknown>,
) {
  await expect(session.callTool(name, args)).rejects.toBeInstanceOf(session.unauthorized);
  const url = provider.authorizationUrl as URL;
  const { page, redirect } = await consent(url);
  await session.finishAuth(redirect);
  return { asked: url.searchParams.get("scope"), page, retry: await session.callTool(name, args) };
}

describe.each(ERAS)("%s era", (era) => {
  describe("an MCP client authorizes itself from the 401 alone", () => {
    it("401 → PRM → AS metadata → registration → code with PKCE and resource → token → tools/call", async () => {
      const provider = new TestOAuthProvider();
      const client = await connect(era, provider);

      const url = provider.authorizationUrl as URL;
      expect(url.origin).toBe(server.devIssuer);
      expect(url.searchParams.get("code_challenge_method")).toBe("S256");
      expect(url.searchParams.get("resource")).toBe(server.mcpUrl);
      // The first 401 asks for the minimal default only (scope minimization).
      expect(url.searchParams.get("scope")).toBe("workflows:read");
      expect(provider.clientInformation()?.client_id).toEqual(expect.any(String));

      const claims = decodeJwt(provider.tokens()?.access_token as string);
      expect(claims).toMatchObject({
        iss: server.devIssuer,
        aud: server.mcpUrl,
        sub: "developer",
        scope: "workflows:read",
      });
      const result = await client.callTool("list_tasks");
      expect(result.isError).toBeFalsy();
      await client.close();
    });

    it("the consent page names the client and explains each scope", async () => {
      const provider = new TestOAuthProvider();
      await beginAuthorization(era, provider);
      const { page, redirect } = await consent(provider.authorizationUrl as URL, { deny: true });
      expect(page).toContain("E2E Test Client");
      expect(page).toContain("Development authorization server");
      expect(page).toContain(
        "<code>workflows:read</code><small>See the task catalogue, and the runs you started with their results and logs</small>",
      );
      expect(redirect.searchParams.get("error")).toBe("access_denied");
      expect(redirect.searchParams.get("code")).toBeNull();
    });
  });

  describe("step-up, asking for least privilege", () => {
    it("workflows:run:square allows square, is refused greet, steps up to workflows:run:greet, and the retry succeeds", async () => {
      const provider = new TestOAuthProvider();
      const client = await connect(era, provider);

      const square = await stepUp(client, provider, "start_task_run", {
        task: "square",
        input: [7],
        wait_seconds: 20,
      });
      // Exactly the 403's scope=: the narrowest scope for the call plus the one already held.
      expect(square.asked).toBe("workflows:read workflows:run:square");
      expect(square.page).toContain(
        "<code>workflows:run:square</code><small>Start runs of the task square</small>",
      );
      expect(decodeJwt(provider.tokens()?.access_token as string).scope).toBe(
        "workflows:read workflows:run:square",
      );
      expect(square.retry.structuredContent).toMatchObject({
        run: { status: "succeeded", results: [49] },
      });

      const greet = await stepUp(client, provider, "start_task_run", {
        task: "greet",
        input: ["Ada"],
        wait_seconds: 20,
      });
      // The challenge names greet's scope plus both held; the v2 client unions it with what it
      // asked before (same set, its own order).
      expect(greet.asked?.split(" ").sort()).toEqual([
        "workflows:read",
        "workflows:run:greet",
        "workflows:run:square",
      ]);
      expect(greet.retry.structuredContent).toMatchObject({
        run: { status: "succeeded", results: ["Hello, Ada!"] },
      });
      // Nothing more than needed was ever granted.
      expect(
        String(decodeJwt(provider.tokens()?.access_token as string).scope)
          .split(" ")
          .sort(),
      ).toEqual(["workflows:read", "workflows:run:greet", "workflows:run:square"]);
      await client.close();
    });
  });
});

describe("what the authorization server and the resource refuse", () => {
  it("a tampered PKCE verifier gets invalid_grant", async () => {
    const provider = new TestOAuthProvider();
    await beginAuthorization("modern", provider);
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
      const client = await connect("modern", provider);
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
    const client = await connect("modern", provider);
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
    const result = await client.callTool("whoami");
    expect(result.structuredContent).toMatchObject({ subject: "developer" });
    expect(provider.tokens()?.access_token).not.toBe(first?.access_token);
    await client.close();
  });
});
