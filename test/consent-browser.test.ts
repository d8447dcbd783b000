import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHROMIUM_ARGS, chromiumPath } from "./helpers/chromium.js";
import { TestOAuthProvider } from "./helpers/oauth-client.js";
import { type RunningServer, startServer } from "./helpers/server.js";

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

it("a person approves in a real browser and the client's flow completes", async () => {
  const provider = new TestOAuthProvider(["authorization_code"], redirectUri);
  const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), {
    authProvider: provider,
  });
  await expect(
    new Client({ name: "browser-e2e", version: "1" }).connect(transport),
  ).rejects.toBeInstanceOf(UnauthorizedError);

  const page = await browser.newPage();
  await page.goto((provider.authorizationUrl as URL).href);
  await expect(page.locator("#client-name").textContent()).resolves.toBe("E2E Test Client");
  await expect(page.locator(".banner").textContent()).resolves.toContain(
    "Development authorization server",
  );
  const scopes = await page
    .locator('input[name="scope"]')
    .evaluateAll((inputs) => inputs.map((input) => (input as unknown as { value: string }).value));
  expect(scopes).toEqual(["workflows:read", "workflows:run", "workflows:cancel"]);
  mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

  await page.uncheck('input[value="workflows:cancel"]');
  await Promise.all([page.waitForURL(`${redirectUri}**`), page.click('button[value="approve"]')]);
  const code = new URL(page.url()).searchParams.get("code");
  expect(code).toEqual(expect.any(String));

  await transport.finishAuth(code as string);
  const client = new Client({ name: "browser-e2e", version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: provider }),
  );
  const whoami = (await client.callTool({ name: "whoami", arguments: {} })) as CallToolResult;
  expect(whoami.structuredContent).toMatchObject({
    subject: "developer",
    scopes: ["workflows:read", "workflows:run"],
    deniedTools: [{ name: "cancel_task_run", missingScopes: ["workflows:cancel"] }],
  });
  await client.close();
});
