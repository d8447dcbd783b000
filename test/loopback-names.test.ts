import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestDevToken } from "../src/auth/dev/token-client.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import { consent, TestOAuthProvider } from "./helpers/oauth-client.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { MODERN, type ToolResult, toolCall } from "./helpers/stack.js";

/*
 * `npm start` with no PUBLIC_URL and the development authorization server: a
 * client may reach it as localhost, 127.0.0.1 or [::1], and each is answered
 * as itself — in Protected Resource Metadata, in the 401 and 403 challenges,
 * and in the audience a token must carry. The server listens on 127.0.0.1
 * here; the other names are sent as the Host header a client using them sends.
 */

const { version } = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
) as { version: string };

let server: RunningServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-loopback-"));
  server = await startServer({ LOCAL_DB_PATH: join(dir, "runs.sqlite") });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const NAMES = ["localhost", "127.0.0.1", "[::1]"] as const;
const base = (name: string) => `http://${name}:${server.port}`;

/** A request to `target` (on 127.0.0.1) as a client that used `host` sends it. */
function raw(
  host: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  target: RunningServer = server,
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${target.url}${path}`,
      {
        method: options.method ?? "GET",
        headers: { host, ...options.headers },
        signal: AbortSignal.timeout(10_000),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const mcpPost = (host: string, body: unknown, token?: string) =>
  raw(host, "/mcp", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

describe("each loopback name is answered as itself", () => {
  it("the banner's first line is the URL a client should use", async () => {
    // The banner follows the "listening" log line on another stream.
    const first = `workflows-mcp ${version}: connect MCP clients to http://localhost:${server.port}/mcp`;
    await expect.poll(() => server.output.includes(first), { timeout: 5_000 }).toBe(true);
    const next = server.output[server.output.indexOf(first) + 2];
    expect(next).toBe(
      `  Listening on          127.0.0.1:${server.port}   (localhost, 127.0.0.1 and [::1] each answered as itself)`,
    );
  });

  it.each(NAMES)(
    "Protected Resource Metadata names http://%s:PORT/mcp to a client that used it",
    async (name) => {
      const host = `${name}:${server.port}`;
      const res = await raw(host, "/.well-known/oauth-protected-resource/mcp");
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toMatchObject({
        resource: `${base(name)}/mcp`,
        authorization_servers: [server.devIssuer],
      });
    },
  );

  it.each(NAMES)(
    "the 401 challenge points a client that used %s at its own metadata",
    async (name) => {
      const res = await mcpPost(`${name}:${server.port}`, toolCall("whoami"));
      expect(res.status).toBe(401);
      expect(res.headers["www-authenticate"]).toBe(
        `Bearer scope="workflows:read", resource_metadata="${base(name)}/.well-known/oauth-protected-resource/mcp"`,
      );
    },
  );

  it("a token is for the name it was asked for: accepted there, refused under another name", async () => {
    const { token } = await requestDevToken({
      server: base("127.0.0.1"),
      scopes: ["workflows:read"],
    });
    expect(decodeJwt(token).aud).toBe(`${base("127.0.0.1")}/mcp`);
    const ok = await mcpPost(`127.0.0.1:${server.port}`, toolCall("whoami"), token);
    expect(ok.status).toBe(200);

    const other = await mcpPost(`localhost:${server.port}`, toolCall("whoami"), token);
    expect(other.status).toBe(401);
    const why = `token audience is not this resource (${base("localhost")}/mcp): get a token for the URL you call`;
    expect(other.headers["www-authenticate"]).toBe(
      `Bearer error="invalid_token", error_description="${why}", scope="workflows:read", resource_metadata="${base("localhost")}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(JSON.parse(other.text)).toEqual({ error: "invalid_token", error_description: why });
  });

  it("a [::1] token is accepted at [::1], and its 403 step-up challenge names [::1]'s metadata", async () => {
    const token = await tokenFor(`${base("[::1]")}/mcp`);
    expect(decodeJwt(token).aud).toBe(`${base("[::1]")}/mcp`);
    const host = `[::1]:${server.port}`;
    const res = await mcpPost(
      host,
      toolCall("start_task_run", { task: "square", input: [2] }),
      token,
    );
    expect(res.status).toBe(403);
    expect(res.headers["www-authenticate"]).toContain(
      `scope="workflows:read workflows:run:square", resource_metadata="${base("[::1]")}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  it("an MCP client connecting to http://127.0.0.1:PORT/mcp authorizes itself and calls a tool", async () => {
    const url = new URL(`${base("127.0.0.1")}/mcp`);
    const provider = new TestOAuthProvider();
    const newClient = () =>
      new Client(
        { name: "loopback", version: "1" },
        { versionNegotiation: { mode: { pin: MODERN } } },
      );
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await expect(newClient().connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl?.searchParams.get("resource")).toBe(url.href);
    const { redirect } = await consent(provider.authorizationUrl as URL);
    await first.finishAuth(redirect.searchParams);
    const client = newClient();
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    const whoami = (await client.callTool({ name: "whoami", arguments: {} })) as ToolResult;
    expect(whoami.structuredContent).toMatchObject({
      subject: "developer",
      scopes: ["workflows:read"],
    });
    await client.close();
  });
});

describe("nothing changes once the resource is configured", () => {
  let issuer: TestIssuer;
  let configured: RunningServer;
  beforeAll(async () => {
    issuer = await startTestIssuer({ audience: "unused" });
    configured = await startServer({
      PUBLIC_URL: "http://mcp.test",
      LOCAL_DB_PATH: join(dir, "configured.sqlite"),
    });
  });
  afterAll(async () => {
    await configured?.stop();
    await issuer?.close();
  });

  it("with PUBLIC_URL, every loopback name gets PUBLIC_URL's resource and metadata", async () => {
    for (const name of NAMES) {
      const host = `${name}:${configured.port}`;
      const prm = await raw(host, "/.well-known/oauth-protected-resource/mcp", {}, configured);
      expect(JSON.parse(prm.text).resource).toBe("http://mcp.test/mcp");
    }
  });

  it("with AUTH_ISSUER (no development server), 127.0.0.1 gets the localhost resource as before", async () => {
    const withIssuer = await startServer({
      AUTH_ISSUER: issuer.issuer,
      LOCAL_DB_PATH: join(dir, "issuer.sqlite"),
    });
    try {
      const prm = await raw(
        `127.0.0.1:${withIssuer.port}`,
        "/.well-known/oauth-protected-resource/mcp",
        {},
        withIssuer,
      );
      expect(JSON.parse(prm.text).resource).toBe(`http://localhost:${withIssuer.port}/mcp`);
    } finally {
      await withIssuer.stop();
    }
  });
});

/**
 * A token for `resource` from the development server, as a client that
 * connected under that name asks for one (the server listens on 127.0.0.1
 * only here, so this test reaches the authorization server directly).
 */
async function tokenFor(resource: string): Promise<string> {
  const issuer = server.devIssuer as string;
  const redirectUri = "http://127.0.0.1/callback";
  const registered = await fetch(`${issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: "none" }),
  });
  const { client_id } = (await registered.json()) as { client_id: string };
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: "workflows:read",
    resource,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  const { redirect } = await consent(url, {}, redirectUri);
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id,
      code: redirect.searchParams.get("code") as string,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}
