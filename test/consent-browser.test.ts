import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHROMIUM_ARGS, chromiumPath } from "./helpers/chromium.js";
import { TestOAuthProvider } from "./helpers/oauth-client.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { MODERN, type ToolResult } from "./helpers/stack.js";

const SCREENSHOT = fileURLToPath(new URL("../test-results/consent.png", import.meta.url));

let server: RunningServer;
let browser: Browser;
let dir: string;
let callback: Server;
let redirectUri: string;
beforeAll(async () => {
  // Where a desktop client listens for the redirect: a loopback port of its own.
  callback = createServer((_req, res) => res.end("You can close this window."));
  await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-browser-"));
  server = await startServer({ LOCAL_DB_PATH: join(dir, "runs.sqlite") });
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}, 600_000);
afterAll(async () => {
  await browser?.close();
  callback?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const newClient = () =>
  new Client(
    { name: "browser-e2e", version: "1" },
    { versionNegotiation: { mode: { pin: MODERN } } },
  );

/** A person in a real browser: opens the authorization URL, checks what is asked, approves. */
async function approve(url: URL, expectScopes: string[], uncheck?: string) {
  const page = await browser.newPage();
  await page.goto(url.href);
  await expect(page.locator("#client-name").textContent()).resolves.toBe("E2E Test Client");
  await expect(page.locator(".banner").textContent()).resolves.toContain(
    "Development authorization server",
  );
  const scopes = await page
    .locator('input[name="scope"]')
    .evaluateAll((inputs) => inputs.map((input) => (input as unknown as { value: string }).value));
  expect(scopes.sort()).toEqual([...expectScopes].sort());
  if (uncheck) await page.uncheck(`input[value="${uncheck}"]`);
  await Promise.all([page.waitForURL(`${redirectUri}**`), page.click('button[value="approve"]')]);
  const redirect = new URL(page.url());
  await page.close();
  return { redirect };
}

it("a person approves in a real browser, then steps up to one task's scope, and the client's flow completes", async () => {
  const provider = new TestOAuthProvider(["authorization_code"], redirectUri);
  const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
    authProvider: provider,
  });
  await expect(newClient().connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);

  // The first authorization asks for the minimal default only.
  const shot = await browser.newPage();
  await shot.goto((provider.authorizationUrl as URL).href);
  mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
  await shot.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  await shot.close();
  const first = await approve(provider.authorizationUrl as URL, ["workflows:read"]);
  await transport.finishAuth(first.redirect.searchParams);

  const client = newClient();
  const connected = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
    authProvider: provider,
  });
  await client.connect(connected);
  const whoami = (await client.callTool({ name: "whoami", arguments: {} })) as ToolResult;
  expect(whoami.structuredContent).toMatchObject({
    subject: "developer",
    scopes: ["workflows:read"],
    startableTasks: [],
  });

  // Starting square needs workflows:run:square: the client steps up, the person sees what it means.
  const start = () =>
    client.callTool({
      name: "start_task_run",
      arguments: { task: "square", input: [6], wait_seconds: 20 },
    });
  await expect(start()).rejects.toBeInstanceOf(UnauthorizedError);
  const stepUpPage = await browser.newPage();
  await stepUpPage.goto((provider.authorizationUrl as URL).href);
  await expect(stepUpPage.locator("body").textContent()).resolves.toContain(
    "Start runs of the task square",
  );
  await stepUpPage.close();
  const second = await approve(provider.authorizationUrl as URL, [
    "workflows:read",
    "workflows:run:square",
  ]);
  await connected.finishAuth(second.redirect.searchParams);
  const result = (await start()) as ToolResult;
  expect(result.structuredContent).toMatchObject({ run: { status: "succeeded", results: [36] } });
  await client.close();
});

it("a client asking for every scope: a person sees the broad ones unchecked with why, approves, and gets only the narrow ones; asked again later, the page is shown again", async () => {
  const register = await fetch(`${server.devIssuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // As the MCP Inspector registers: no application_type, loopback callback, every scope.
    body: JSON.stringify({
      client_name: "MCP Inspector",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  expect(register.status).toBe(201);
  const { client_id } = (await register.json()) as { client_id: string };
  const prm = (await (
    await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)
  ).json()) as { resource: string; scopes_supported: string[] };
  const authorize = (scope: string) => {
    const verifier = randomBytes(32).toString("base64url");
    const url = new URL(`${server.devIssuer}/auth`);
    url.search = new URLSearchParams({
      client_id,
      response_type: "code",
      redirect_uri: redirectUri,
      scope,
      resource: prm.resource,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    }).toString();
    return { url, verifier };
  };

  // One browser profile for both authorizations: the development server's session persists.
  const context = await browser.newContext();
  const page = await context.newPage();
  const first = authorize(prm.scopes_supported.join(" "));
  await page.goto(first.url.href);
  const boxes = await page.locator('input[name="scope"]').evaluateAll((inputs) =>
    inputs.map((input) => {
      const box = input as unknown as { value: string; checked: boolean };
      return [box.value, box.checked] as const;
    }),
  );
  const broad = [
    "workflows:read:all",
    "workflows:run",
    "workflows:cancel:all",
    "workflows:approve",
    "workflows:admin",
  ];
  expect(boxes).toEqual(prm.scopes_supported.map((scope) => [scope, !broad.includes(scope)]));
  await expect(
    page.locator('label.broad:has(input[value="workflows:admin"]) .why-broad').textContent(),
  ).resolves.toBe(
    "Broad: it includes every other scope, and shows who did what. Not selected unless you check it.",
  );
  await expect(page.locator("label.broad").count()).resolves.toBe(5);
  await Promise.all([page.waitForURL(`${redirectUri}**`), page.click('button[value="approve"]')]);
  const code = new URL(page.url()).searchParams.get("code") as string;
  const token = await fetch(`${server.devIssuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id,
      code,
      redirect_uri: redirectUri,
      code_verifier: first.verifier,
    }),
  });
  const { scope } = (await token.json()) as { scope: string };
  expect(scope.split(" ").sort()).toEqual(
    prm.scopes_supported.filter((s) => !broad.includes(s)).sort(),
  );

  // A step-up for a scope refused above: the person is asked again (not silently refused).
  await page.goto(authorize("workflows:read workflows:run").url.href);
  await expect(page.locator("#client-name").textContent()).resolves.toBe("MCP Inspector");
  await expect(page.locator('input[value="workflows:run"]').isChecked()).resolves.toBe(false);
  await expect(page.locator('input[value="workflows:read"]').isChecked()).resolves.toBe(true);
  await context.close();
});
