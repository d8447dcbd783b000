import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "./helpers/server.js";
import { connectClient, postMcp, toolCall } from "./helpers/stack.js";

const TOKEN_CLI = fileURLToPath(new URL("../dist/src/auth/dev/token-cli.js", import.meta.url));
const run = promisify(execFile);

let server: RunningServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-dev-"));
  // No AUTH_ISSUER: the embedded development authorization server starts.
  server = await startServer({ LOCAL_DB_PATH: join(dir, "runs.sqlite") });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const token = async (...scopes: string[]) =>
  (await run(process.execPath, [TOKEN_CLI, "--server", server.url, ...scopes])).stdout.trim();

describe("the embedded development authorization server", () => {
  it("runs on loopback and is the issuer the metadata names", async () => {
    expect(server.devIssuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const prm = await (
      await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)
    ).json();
    expect(prm).toMatchObject({
      resource: server.mcpUrl,
      authorization_servers: [server.devIssuer],
    });
    const metadata = (await (
      await fetch(`${server.devIssuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: server.devIssuer,
      code_challenge_methods_supported: ["S256"],
      grant_types_supported: expect.arrayContaining([
        "authorization_code",
        "refresh_token",
        "client_credentials",
      ]),
      registration_endpoint: `${server.devIssuer}/reg`,
    });
    const rfc8414 = await (
      await fetch(`${server.devIssuer}/.well-known/oauth-authorization-server`)
    ).json();
    expect(rfc8414).toEqual(metadata);
    // Client ID Metadata Documents where the runtime allows them (Node 22+, as on Render).
    expect(metadata.client_id_metadata_document_supported).toBe(
      typeof URL.parse === "function" ? true : undefined,
    );
  });

  it("`npm run token` prints a JWT for this resource with the scopes asked for", async () => {
    const jwt = await token("workflows:read", "workflows:run");
    expect(jwt.split(".")).toHaveLength(3);
    expect(decodeJwt(jwt)).toMatchObject({
      iss: server.devIssuer,
      aud: server.mcpUrl,
      scope: "workflows:read workflows:run",
    });
  });

  it("its token is accepted by /mcp through the ordinary JWKS path", async () => {
    const client = await connectClient(server.url, await token("workflows:read", "workflows:run"));
    const whoami = (await client.callTool({ name: "whoami", arguments: {} })) as CallToolResult;
    expect(whoami.structuredContent).toMatchObject({
      issuer: server.devIssuer,
      scopes: ["workflows:read", "workflows:run"],
      deniedTools: [{ name: "cancel_task_run", missingScopes: ["workflows:cancel"] }],
    });
    const started = (await client.callTool({
      name: "start_task_run",
      arguments: { task: "sumOfSquares", input: [[1, 2, 3]], wait_seconds: 20 },
    })) as CallToolResult;
    expect(started.structuredContent).toMatchObject({
      run: { status: "succeeded", results: [14] },
    });
    await client.close();
  });

  it("a token with the same claims signed by another key is refused", async () => {
    const claims = decodeJwt(await token("workflows:read"));
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt" })
      .sign(privateKey);
    const res = await postMcp(server.url, toolCall("whoami"), {
      authorization: `Bearer ${forged}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("with no scopes named, asks for every scope the server supports", async () => {
    expect(decodeJwt(await token())).toMatchObject({
      scope: "workflows:read workflows:run workflows:cancel",
    });
  });

  it("refuses an unknown scope with a message naming the known ones", async () => {
    await expect(token("workflows:admin")).rejects.toMatchObject({
      code: 1,
      stderr:
        "token: unknown scope workflows:admin; the server knows workflows:read, workflows:run, workflows:cancel\n",
    });
  });

  it("tells the user to start the server when it is not running", async () => {
    await expect(
      run(process.execPath, [TOKEN_CLI, "--server", "http://127.0.0.1:9"], { timeout: 15_000 }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("Start it with `npm start`"),
    });
  });

  it("mints tokens for this resource only", async () => {
    const reg = await fetch(`${server.devIssuer}/reg`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
      }),
    });
    const client = (await reg.json()) as { client_id: string; client_secret: string };
    const res = await fetch(`${server.devIssuer}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
      },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        resource: "http://other.test/mcp",
        scope: "workflows:read",
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_target" });
  });
});
