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
