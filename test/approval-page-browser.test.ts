import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PAGE_HEADERS } from "../src/approvals/page/html.js";
import { requestDevToken } from "../src/auth/dev/token-client.js";
import { CHROMIUM_ARGS, chromiumPath } from "./helpers/chromium.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { connectClient, type McpTestClient } from "./helpers/stack.js";

/*
 * The approval page in a real browser against the real server process, with
 * the embedded development authorization server: alice asks over MCP (the v2
 * client), people sign in at the development server's page and decide.
 * greet needs an approver; square is confirmed by whoever asked (self).
 */

interface Approval {
  id: string;
  status: string;
  url: string;
  runId?: string;
}

let dir: string;
let server: RunningServer;
let browser: Browser;
/** One person's browser profile: bob, until the self-mode test signs alice in. */
let context: BrowserContext;
let alice: McpTestClient;
let aliceToken: string;
/** Another loopback origin (same site, another port): it frames the page and posts to it. */
let other: Server;
let otherOrigin: string;
/** Every authorization code the browser carried to the callback. */
const codes: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-approval-page-"));
  server = await startServer({
    LOCAL_DB_PATH: join(dir, "runs.sqlite"),
    APPROVAL_TASKS: "greet,square=self",
  });
  ({ token: aliceToken } = await requestDevToken({
    server: server.url,
    user: "alice",
    scopes: ["workflows:read", "workflows:run:greet", "workflows:run:square"],
  }));
  alice = await connectClient(server.url, aliceToken);
  other = createServer((req, res) => {
    const target = new URL(req.url ?? "/", "http://x").searchParams.get("target") ?? "";
    const page = req.url?.startsWith("/post")
      ? `<form id="f" method="post" action="${target}"><input name="decision" value="approve"></form><script>document.getElementById("f").submit()</script>`
      : `<iframe id="framed" src="${target}"></iframe>`;
    res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html>${page}`);
  });
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  otherOrigin = `http://localhost:${(other.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  context = await browser.newContext();
  context.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname === "/approvals/callback") codes.push(url.searchParams.get("code") ?? "");
  });
}, 600_000);

afterAll(async () => {
  await alice?.close();
  await browser?.close();
  other?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function ask(task: string, input: unknown[]): Promise<Approval> {
  const result = await alice.callTool("start_task_run", { task, input });
  return (result.structuredContent as { approval: Approval }).approval;
}

async function approvalOf(id: string): Promise<Approval> {
  const result = await alice.callTool("list_approval_requests", {});
  const approvals = (result.structuredContent as { approvals: Approval[] }).approvals;
  return approvals.find((a) => a.id === id) as Approval;
}

const text = (page: Page, selector: string) => page.locator(selector).textContent();

/** On the development server's sign-in and consent page: signs in as `username`, granting what is offered. */
async function signInAs(page: Page, username: string, back: string) {
  await page.locator('input[name="username"]').fill(username);
  await Promise.all([page.waitForURL(back), page.click('button[value="approve"]')]);
}

/** The scopes the consent page offers, with whether each starts checked. */
const offered = (page: Page) =>
  page.locator('input[name="scope"]').evaluateAll((inputs) =>
    inputs.map((input) => {
      const box = input as unknown as { value: string; checked: boolean };
      return [box.value, box.checked] as const;
    }),
  );

it("an approver signs in at the authorization server, approves, and the run starts for the person who asked", async () => {
  const approval = await ask("greet", ["Bob"]);
  expect(approval.url).toBe(`http://localhost:${server.port}/approvals/${approval.id}`);
  const page = await context.newPage();
  await page.goto(approval.url);
  expect(page.url().startsWith(`${server.devIssuer}/interaction/`)).toBe(true);
  await expect(text(page, "#client-name")).resolves.toBe("workflows-mcp approval page");
  await expect(offered(page)).resolves.toEqual([
    ["workflows:read", true],
    ["workflows:approve:greet", true],
  ]);
  await signInAs(page, "bob", approval.url);
  // Back on the page itself: no code, no state in its URL.
  expect(page.url()).toBe(approval.url);
  await expect(text(page, "#status")).resolves.toBe("pending");
  await expect(text(page, "#requester")).resolves.toBe("alice");
  await expect(text(page, "#person")).resolves.toBe("bob");
  await expect(text(page, "#input")).resolves.toBe('[\n  "Bob"\n]');
  await expect(text(page, "#approve")).resolves.toBe("Approve");
  await expect(text(page, "#deny")).resolves.toBe("Deny");

  await page.fill('textarea[name="reason"]', "ship it");
  await Promise.all([page.waitForURL(approval.url), page.click("#approve")]);
  await expect(text(page, "#status")).resolves.toBe("approved");
  await expect(text(page, "#decided-by")).resolves.toBe("bob (client workflows-mcp-approvals)");
  await expect(text(page, "#reason")).resolves.toBe("ship it");
  const runId = (await text(page, "#run")) as string;
  expect(runId).toBe((await approvalOf(approval.id)).runId);

  const run = await alice.callTool("get_task_run", { id: runId, wait_seconds: 10 });
  expect(run.structuredContent).toMatchObject({
    run: { id: runId, task: "greet", status: "succeeded", results: ["Hello, Bob!"] },
  });
  await page.close();
});

it("an approver denies: the request is denied and nothing runs", async () => {
  const approval = await ask("greet", ["Dave"]);
  const page = await context.newPage();
  // Signed in already, with workflows:approve:greet: straight to the page.
  await page.goto(approval.url);
  expect(page.url()).toBe(approval.url);
  await page.fill('textarea[name="reason"]', "not today");
  await Promise.all([page.waitForURL(approval.url), page.click("#deny")]);
  await expect(text(page, "#status")).resolves.toBe("denied");
  await expect(text(page, "#reason")).resolves.toBe("not today");
  await expect(page.locator("#run").count()).resolves.toBe(0);
  await expect(page.locator("form").count()).resolves.toBe(0);
  await expect(text(page, "#next")).resolves.toBe("This request is decided; decisions are final.");
  expect(await approvalOf(approval.id)).toMatchObject({ status: "denied" });
  expect((await approvalOf(approval.id)).runId).toBeUndefined();
  const runs = await alice.callTool("list_task_runs", {});
  expect((runs.structuredContent as { runs: { task: string }[] }).runs.length).toBe(1);
  await page.close();
});

it("a hostile input is shown as text: no script runs, no element is made of it", async () => {
  const hostile = `<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2;alert(1)">`;
  const approval = await ask("greet", [hostile]);
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(approval.url);
  await expect(text(page, "#input")).resolves.toBe(JSON.stringify([hostile], null, 2));
  await expect(page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).resolves.toBe(
    undefined,
  );
  await expect(page.locator("img").count()).resolves.toBe(0);
  await expect(page.locator("script").count()).resolves.toBe(0);
  expect(dialogs).toEqual([]);
  await page.close();
});

it("the page refuses to be framed, with exactly the headers that say so", async () => {
  const approval = await ask("greet", ["Frame"]);
  const page = await context.newPage();
  const framed = page.waitForResponse(approval.url);
  await page.goto(`${otherOrigin}/?target=${encodeURIComponent(approval.url)}`);
  const response = await framed;
  // The page was answered (the session cookie went along: same site)…
  expect(response.status()).toBe(200);
  const headers = await response.allHeaders();
  expect({
    csp: headers["content-security-policy"],
    xfo: headers["x-frame-options"],
    cache: headers["cache-control"],
    referrer: headers["referrer-policy"],
  }).toEqual({
    csp: PAGE_HEADERS["Content-Security-Policy"],
    xfo: "DENY",
    cache: "no-store",
    referrer: "no-referrer",
  });
  expect(PAGE_HEADERS["Content-Security-Policy"]).toMatch(
    /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]{43}='; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/,
  );
  // …and the browser refused to show it in the frame.
  await expect
    .poll(() =>
      page
        .frames()
        .find((frame) => frame !== page.mainFrame())
        ?.url(),
    )
    .toBe("chrome-error://chromewebdata/");
  const frame = page.frames().find((f) => f !== page.mainFrame());
  await expect(frame?.locator("#status").count()).resolves.toBe(0);
  await page.close();
});

it("CSRF: a post from another origin, or without the form's token, is refused and decides nothing", async () => {
  const approval = await ask("greet", ["Mallory"]);
  const page = await context.newPage();
  // A page at another origin of the same site posts a decision: the cookie goes along, the token does not.
  const refused = page.waitForResponse(
    (response) => response.url() === approval.url && response.request().method() === "POST",
  );
  await page.goto(`${otherOrigin}/post?target=${encodeURIComponent(approval.url)}`);
  expect((await refused).status()).toBe(403);
  await expect(text(page, "#message")).resolves.toBe(
    "This form was sent from another site. Nothing was decided.",
  );

  // With the person's own session but no token (same origin as far as headers go).
  const noToken = await context.request.post(approval.url, {
    form: { decision: "approve" },
    maxRedirects: 0,
  });
  expect(noToken.status()).toBe(403);
  expect(await noToken.text()).toContain(
    "This form does not belong to your current sign-in (it may be from before you signed in again). Nothing was decided.",
  );

  // With the real token, but sent from another origin.
  await page.goto(approval.url);
  const csrf = await page.locator('input[name="csrf"]').inputValue();
  const crossOrigin = await context.request.post(approval.url, {
    form: { decision: "approve", csrf },
    headers: { Origin: otherOrigin, "Sec-Fetch-Site": "same-site" },
    maxRedirects: 0,
  });
  expect(crossOrigin.status()).toBe(403);
  expect(await approvalOf(approval.id)).toMatchObject({ status: "pending" });
  await expect(page.reload().then(() => text(page, "#status"))).resolves.toBe("pending");
  await page.close();
});

it("self mode: another person is refused; the person who asked, signed in as themselves, confirms and the run starts", async () => {
  const approval = await ask("square", [7]);
  const page = await context.newPage();
  const refused = await page.goto(approval.url);
  expect(refused?.status()).toBe(403);
  await expect(text(page, "h1")).resolves.toBe("Only the person who asked can confirm this run");
  await expect(text(page, "#message")).resolves.toBe(
    `Approval request ${approval.id} is confirmed by alice (at ${server.devIssuer}), who asked for it, signed in as themselves. You are signed in as bob: nothing you do here can confirm or refuse it.`,
  );
  await expect(page.locator("form").count()).resolves.toBe(0);

  await page.click("text=Sign in as someone else");
  await page.waitForURL(`${server.devIssuer}/interaction/**`);
  await expect(offered(page)).resolves.toEqual([["workflows:read", true]]);
  await signInAs(page, "alice", approval.url);
  await expect(text(page, "#person")).resolves.toBe("alice");
  await expect(text(page, "#approve")).resolves.toBe("Confirm this run");
  await expect(text(page, "#deny")).resolves.toBe("Refuse");
  await Promise.all([page.waitForURL(approval.url), page.click("#approve")]);
  await expect(text(page, "#status")).resolves.toBe("approved");
  await expect(text(page, "#decided-by")).resolves.toBe("alice (client workflows-mcp-approvals)");
  const runId = (await text(page, "#run")) as string;
  const run = await alice.callTool("get_task_run", { id: runId, wait_seconds: 10 });
  expect(run.structuredContent).toMatchObject({
    run: { id: runId, task: "square", status: "succeeded", results: [49] },
  });
  await page.close();
});

it("a 2026-07-28 client declaring URL elicitation sends its person to the page; the retried start answers the run they confirmed", async () => {
  const client = new Client(
    { name: "eliciting-client", version: "1" },
    {
      versionNegotiation: { mode: { pin: "2026-07-28" } },
      capabilities: { elicitation: { url: {} } },
    },
  );
  const opened: { url: string; message: string }[] = [];
  client.setRequestHandler("elicitation/create", async (request) => {
    const { url, message } = request.params as { url: string; message: string };
    opened.push({ url, message });
    // The client opens the URL for its person, who confirms there, signed in as themselves.
    const page = await context.newPage();
    await page.goto(url);
    await expect(text(page, "#person")).resolves.toBe("alice");
    await Promise.all([page.waitForURL(url), page.click("#approve")]);
    await expect(text(page, "#status")).resolves.toBe("approved");
    await page.close();
    return { action: "accept" };
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${aliceToken}` } },
    }),
  );
  const result = await client.callTool({
    name: "start_task_run",
    arguments: { task: "square", input: [9] },
  });
  expect(result.isError).toBeFalsy();
  const { run, approval } = result.structuredContent as {
    run: { id: string; task: string; input: unknown; startedBy: { subject: string } };
    approval: Approval & { mode: string; decidedBy: { subject: string } };
  };
  expect(opened).toEqual([
    {
      url: approval.url,
      message: expect.stringMatching(
        /^Confirm the run of square in your browser, signed in as yourself \(alice\): it starts once you do\./,
      ),
    },
  ]);
  expect(approval).toMatchObject({
    status: "approved",
    mode: "self",
    decidedBy: { subject: "alice" },
    runId: run.id,
  });
  expect(run).toMatchObject({ task: "square", input: [9], startedBy: { subject: "alice" } });
  await client.close();
});

it("no authorization code or access token reached any URL after the callback, or the server's output", async () => {
  expect(codes.length).toBe(2);
  expect(codes.every((code) => code.length > 20)).toBe(true);
  const output = server.output.join("\n");
  for (const code of codes) expect(output.includes(code)).toBe(false);
  expect(output.includes(aliceToken)).toBe(false);
  expect(output.includes("code=")).toBe(false);
  expect(output.includes("access_token")).toBe(false);
  const signIns = server.logs.filter((line) => line.msg === "approval page: signed in");
  expect(signIns.map((line) => line.subject)).toEqual(["bob", "alice"]);
  const callbacks = server.logs.filter((line) => line.path === "/approvals/callback");
  expect(callbacks.map((line) => line.status)).toEqual([303, 303]);
});
