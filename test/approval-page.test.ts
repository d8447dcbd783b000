import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EncryptJWT } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../src/app.js";
import type { Approval } from "../src/approvals/approval.js";
import { createApprovals } from "../src/approvals/create.js";
import { csrfToken, csrfValid, sameOrigin } from "../src/approvals/page/csrf.js";
import { escapeHtml, messagePage, PAGE_HEADERS } from "../src/approvals/page/html.js";
import { pageKeys, seal, unseal } from "../src/approvals/page/sealed.js";
import { type PageSession, SignInState } from "../src/approvals/page/session.js";
import { approvalPage, MAX_INPUT_SHOWN, shownInput } from "../src/approvals/page/view.js";
import type { Approvals } from "../src/approvals/service.js";
import { createAuditor } from "../src/audit/auditor.js";
import type { Caller } from "../src/auth/caller.js";
import { createJwtVerifier } from "../src/auth/verifier.js";
import { loadConfig } from "../src/config.js";
import { createRateLimits } from "../src/http/rate-limit.js";
import { buildCatalogue } from "../src/mcp/catalogue.js";
import { createStore } from "../src/store/index.js";
import type { WorkflowBackend } from "../src/workflows/backend.js";
import { createLocalBackend } from "../src/workflows/local/index.js";
import { tools } from "../tools/index.js";
import { FIXTURE_TASKS } from "./helpers/stack.js";

const SECRET = "an approval secret of at least thirty-two characters";
const keys = pageKeys(SECRET);
const Claims = z.object({ who: z.string() });

describe("sealed cookies", () => {
  it("open to what was sealed, with the same secret on another instance", async () => {
    const sealed = await seal(keys.session, { who: "bob" }, 60);
    await expect(unseal(pageKeys(SECRET).session, sealed, Claims)).resolves.toEqual({
      who: "bob",
    });
  });

  it("refuse a tampered value, another purpose's key, another secret, an expired one, or another shape", async () => {
    const sealed = await seal(keys.session, { who: "bob" }, 60);
    const [header, , iv, ciphertext, tag] = sealed.split(".") as [
      string,
      string,
      string,
      string,
      string,
    ];
    const flipped = `${ciphertext.slice(0, -2)}${ciphertext.endsWith("AA") ? "AB" : "AA"}`;
    await expect(
      unseal(keys.session, [header, "", iv, flipped, tag].join("."), Claims),
    ).resolves.toBe(undefined);
    await expect(unseal(keys.signIn, sealed, Claims)).resolves.toBe(undefined);
    await expect(unseal(pageKeys(`${SECRET}!`).session, sealed, Claims)).resolves.toBe(undefined);
    await expect(unseal(pageKeys(undefined).session, sealed, Claims)).resolves.toBe(undefined);
    const expired = await new EncryptJWT({ who: "bob" })
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .encrypt(keys.session);
    await expect(unseal(keys.session, expired, Claims)).resolves.toBe(undefined);
    await expect(unseal(keys.session, sealed, z.object({ sub: z.string() }))).resolves.toBe(
      undefined,
    );
    await expect(unseal(keys.session, "x".repeat(5_000), Claims)).resolves.toBe(undefined);
    await expect(unseal(keys.session, undefined, Claims)).resolves.toBe(undefined);
  });

  it("without APPROVAL_SECRET, keys are random per start", () => {
    expect(
      Buffer.from(pageKeys(undefined).session).equals(Buffer.from(pageKeys(undefined).session)),
    ).toBe(false);
    expect(Buffer.from(keys.session).equals(Buffer.from(keys.csrf))).toBe(false);
  });
});

describe("CSRF", () => {
  const token = csrfToken(keys.csrf, "sid-1", "apr-1");

  it("a token is good for its sign-in and request only", () => {
    expect(csrfValid(keys.csrf, "sid-1", "apr-1", token)).toBe(true);
    expect(csrfValid(keys.csrf, "sid-2", "apr-1", token)).toBe(false);
    expect(csrfValid(keys.csrf, "sid-1", "apr-2", token)).toBe(false);
    expect(csrfValid(pageKeys(undefined).csrf, "sid-1", "apr-1", token)).toBe(false);
    expect(csrfValid(keys.csrf, "sid-1", "apr-1", token.slice(1))).toBe(false);
    expect(csrfValid(keys.csrf, "sid-1", "apr-1", undefined)).toBe(false);
    expect(csrfValid(keys.csrf, "sid-1", "apr-1", [token])).toBe(false);
  });

  it("the browser's own headers must say the form came from the page's origin", () => {
    const origin = "http://localhost:3000";
    expect(sameOrigin({}, origin)).toBe(true);
    expect(sameOrigin({ origin, "sec-fetch-site": "same-origin" }, origin)).toBe(true);
    // The page's no-referrer policy makes a browser send Origin: null for its own form.
    expect(sameOrigin({ origin: "null", "sec-fetch-site": "same-origin" }, origin)).toBe(true);
    expect(sameOrigin({ origin: "http://localhost:4000" }, origin)).toBe(false);
    expect(sameOrigin({ origin: "null", "sec-fetch-site": "same-site" }, origin)).toBe(false);
    expect(sameOrigin({ origin, "sec-fetch-site": "cross-site" }, origin)).toBe(false);
    expect(sameOrigin({ "sec-fetch-site": "none" }, origin)).toBe(false);
  });
});

const pending: Approval = {
  id: "apr-1",
  status: "pending",
  task: "deploy",
  mode: "approver",
  requestedBy: { issuer: "https://issuer.test", subject: "alice", clientId: "client-a" },
  createdAt: "2026-01-01T00:00:00.000Z",
  expiresAt: "2026-01-01T01:00:00.000Z",
  url: "https://mcp.test/approvals/apr-1",
};
const person = { subject: "bob", issuer: "https://issuer.test" };
const switchUrl = "https://mcp.test/approvals/apr-1/sign-in";

describe("rendering", () => {
  it("escapes everything a request carries: a hostile input is text", () => {
    const hostile = `<script>alert(1)</script>"><img src=x onerror=alert(2)>'&`;
    const html = approvalPage({
      approval: {
        ...pending,
        task: `<b>t</b>`,
        requestedBy: { ...pending.requestedBy, subject: `"><i>` },
      },
      input: [hostile],
      person: { subject: "<u>bob</u>", issuer: person.issuer },
      form: { action: pending.url, csrf: `"><x>` },
      switchUrl,
    });
    expect(html).toContain(
      `<pre id="input">[\n  &#34;&#60;script&#62;alert(1)&#60;/script&#62;\\&#34;&#62;&#60;img src=x onerror=alert(2)&#62;&#39;&#38;&#34;\n]</pre>`,
    );
    expect(html).toContain(`<code id="task">&#60;b&#62;t&#60;/b&#62;</code>`);
    expect(html).toContain(`<dd id="requester">&#34;&#62;&#60;i&#62;</dd>`);
    expect(html).toContain(`<strong id="person">&#60;u&#62;bob&#60;/u&#62;</strong>`);
    expect(html).toContain(`<input type="hidden" name="csrf" value="&#34;&#62;&#60;x&#62;">`);
    for (const tag of ["<script", "<img", "<i>", "<u>", "<x>", "<b>"]) {
      expect(html.includes(tag)).toBe(false);
    }
    expect(escapeHtml(`<>&"'`)).toBe("&#60;&#62;&#38;&#34;&#39;");
    expect(messagePage("<t>", "<m>", { href: `"x`, text: "<l>" })).toContain(
      `<h1>&#60;t&#62;</h1>\n<p class="message" id="message">&#60;m&#62;</p>\n<p><a href="&#34;x">&#60;l&#62;</a></p>`,
    );
  });

  it("shows at most 64 KB of input and says it was cut", () => {
    const input = ["a".repeat(100_000)];
    const shown = shownInput(input);
    expect(shown.text).toBe(JSON.stringify(input, null, 2).slice(0, MAX_INPUT_SHOWN));
    expect(shown.note).toBe(
      "Cut: the first 65,536 of 100,008 characters are shown; the run gets the whole input.",
    );
    expect(shownInput({ a: 1 })).toEqual({ text: '{\n  "a": 1\n}' });
  });

  it("words the buttons for the mode, and shows no form to who may not decide", () => {
    const form = { action: pending.url, csrf: "t" };
    const approver = approvalPage({ approval: pending, input: [], person, form, switchUrl });
    expect(approver).toContain(`id="deny">Deny</button>`);
    expect(approver).toContain(`id="approve" class="primary">Approve</button>`);
    const self = approvalPage({
      approval: { ...pending, mode: "self" },
      input: [],
      person,
      form,
      switchUrl,
    });
    expect(self).toContain(`id="deny">Refuse</button>`);
    expect(self).toContain(`id="approve" class="primary">Confirm this run</button>`);
    const waiting = approvalPage({ approval: pending, input: [], person, switchUrl });
    expect(waiting.includes("<form")).toBe(false);
    expect(waiting).toContain(
      `<p class="note" id="next">Waiting for someone other than alice holding workflows:approve:deploy to decide it. Nothing runs until then.</p>`,
    );
    const decided = approvalPage({
      approval: {
        ...pending,
        status: "approved",
        decidedBy: { issuer: person.issuer, subject: "bob", clientId: "workflows-mcp-approvals" },
        decidedAt: "2026-01-01T00:10:00.000Z",
        reason: "ok",
        runId: "trn-1",
      },
      input: [],
      person,
      switchUrl,
    });
    expect(decided).toContain(
      `<dt>Decided by</dt><dd id="decided-by">bob (client workflows-mcp-approvals)</dd>\n  <dt>Decided at</dt><dd id="decided-at">2026-01-01T00:10:00.000Z</dd>\n  <dt>Reason</dt><dd id="reason">ok</dd>\n  <dt>Run</dt><dd id="run">trn-1</dd>\n</dl>`,
    );
    expect(decided).toContain(`id="next">This request is decided; decisions are final.</p>`);
    const expired = approvalPage({
      approval: { ...pending, status: "expired", decidedAt: pending.expiresAt },
      input: [],
      person,
      switchUrl,
    });
    expect(expired).toContain(`<dt>Expired</dt><dd id="expires">2026-01-01T01:00:00.000Z</dd>`);
    expect(expired).toContain(
      `id="next">This request expired undecided: it never runs. Starting the task again makes a new request.</p>`,
    );
    expect(expired.includes("<form")).toBe(false);
  });
});

/** An authorization server's metadata (only): where the page would send a browser. */
async function startMetadata(extra: Record<string, unknown>) {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/.well-known/oauth-authorization-server") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        ...extra,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

interface PageApp {
  url: string;
  issuer: string;
  approvals: Approvals;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** The app as main.ts assembles it (real store, engine, approvals), with approvals for `echo`. */
async function startApp(env: Record<string, string>, metadata: Record<string, unknown>) {
  const as = await startMetadata(metadata);
  const dir = mkdtempSync(join(tmpdir(), "workflows-mcp-approval-page-"));
  const config = loadConfig({
    PUBLIC_URL: "https://mcp.test",
    AUTH_ISSUER: as.issuer,
    LOCAL_DB_PATH: join(dir, "runs.sqlite"),
    APPROVAL_TASKS: "echo",
    APPROVAL_SECRET: SECRET,
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const store = await createStore({ sqlitePath: config.sqlitePath, logger });
  const backend: WorkflowBackend = await createLocalBackend({
    dbPath: config.sqlitePath,
    tasksModule: FIXTURE_TASKS,
    logger,
  });
  const auditor = createAuditor(store, logger);
  const running = createApprovals(config, { store: store.approvals, backend, auditor, logger });
  if (!running) throw new Error("approvals are configured");
  const verifier = createJwtVerifier({ ...config.auth, issuer: as.issuer, logger });
  const limits = await createRateLimits(config.limits, logger);
  const { app, close } = createApp({
    config,
    issuer: as.issuer,
    verifier,
    backend,
    catalogue: buildCatalogue(tools, backend, config.approvals?.policy),
    audit: store,
    auditor,
    approvals: running.approvals,
    limits,
    logger,
    version: "0.0.0-test",
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    issuer: as.issuer,
    approvals: running.approvals,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await close();
      await running.close();
      await backend.close();
      await store.close();
      verifier.close();
      await as.close();
      rmSync(dir, { recursive: true, force: true });
    },
  } satisfies PageApp;
}

const headersOf = (res: Response) => ({
  csp: res.headers.get("content-security-policy"),
  xfo: res.headers.get("x-frame-options"),
  cache: res.headers.get("cache-control"),
  referrer: res.headers.get("referrer-policy"),
});
const PAGE = {
  csp: PAGE_HEADERS["Content-Security-Policy"],
  xfo: "DENY",
  cache: "no-store",
  referrer: "no-referrer",
};
const messageOf = (html: string) => /<p class="message" id="message">([^<]*)<\/p>/.exec(html)?.[1];

describe("without a client at an issuer that takes no Client ID Metadata Documents", () => {
  let app: PageApp;
  beforeAll(async () => {
    app = await startApp({}, {});
  });
  afterAll(() => app?.close());

  it("publishes its Client ID Metadata Document", async () => {
    const res = await fetch(`${app.url}/oauth/client-metadata.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      client_id: "https://mcp.test/oauth/client-metadata.json",
      client_name: "workflows-mcp approval page",
      client_uri: "https://mcp.test",
      redirect_uris: ["https://mcp.test/approvals/callback"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    });
  });

  it("answers a 503 page saying what to set, and logs it once", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${app.url}/approvals/apr-x`, { redirect: "manual" });
      expect(res.status).toBe(503);
      expect(headersOf(res)).toEqual(PAGE);
      expect(messageOf(await res.text())).toBe(
        escapeHtml(
          `${app.issuer} does not accept Client ID Metadata Documents (its metadata has no client_id_metadata_document_supported), so the approval page has no client there: register one with the redirect URI <PUBLIC_URL>/approvals/callback and set APPROVAL_CLIENT_ID (and APPROVAL_CLIENT_SECRET for a confidential client)`,
        ),
      );
    }
    const logged = app.logs.filter((line) => String(line.msg).startsWith("approval page: "));
    expect(logged.map((line) => [line.level, line.issuer])).toEqual([[50, app.issuer]]);
  });
});

it("at an issuer that takes Client ID Metadata Documents, the page's client id is its document's URL", async () => {
  const app = await startApp({}, { client_id_metadata_document_supported: true });
  try {
    const res = await fetch(`${app.url}/approvals/apr-x`, { redirect: "manual" });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get("location") as string);
    expect(location.searchParams.get("client_id")).toBe(
      "https://mcp.test/oauth/client-metadata.json",
    );
  } finally {
    await app.close();
  }
});

it("each address loads pages within the budget /mcp gives it: then 429, and nothing is read", async () => {
  // One request a minute per caller: four per address.
  const app = await startApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: "1" }, {});
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await fetch(`${app.url}/approvals/apr-x`, { redirect: "manual" })).status);
    }
    expect(statuses).toEqual([503, 503, 503, 503, 429]);
  } finally {
    await app.close();
  }
});

describe("with APPROVAL_CLIENT_ID", () => {
  let app: PageApp;
  let id: string;
  const alice: Caller = {
    issuer: "",
    subject: "alice",
    clientId: "agent",
    scopes: ["workflows:read", "workflows:run:echo"],
  };
  const signedIn = async (subject: string, scp: string[], asked = scp) => {
    const session: PageSession = {
      sid: randomBytes(16).toString("base64url"),
      iss: app.issuer,
      sub: subject,
      cid: "page-client",
      scp,
      tex: Math.floor(Date.now() / 1000) + 600,
      asked,
    };
    return {
      session,
      cookie: `approval_session=${await seal(keys.session, session, 600)}`,
      csrf: csrfToken(keys.csrf, session.sid, id),
    };
  };
  const post = (cookie: string | undefined, form: Record<string, string>, headers = {}) =>
    fetch(`${app.url}/approvals/${id}`, {
      method: "POST",
      redirect: "manual",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(cookie ? { cookie } : {}),
        ...headers,
      },
      body: new URLSearchParams(form),
    });
  const status = async () => (await app.approvals.get(id, alice)).status;

  beforeAll(async () => {
    app = await startApp({ APPROVAL_CLIENT_ID: "page-client" }, {});
    alice.issuer = app.issuer;
    ({ id } = await app.approvals.request(alice, "echo", ["hi"], "start_task_run"));
  });
  afterAll(() => app?.close());

  it("sends a browser without a session to sign in: code flow, PKCE S256, state, resource, the scopes deciding takes", async () => {
    const res = await fetch(`${app.url}/approvals/${id}`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(headersOf(res)).toEqual(PAGE);
    const location = new URL(res.headers.get("location") as string);
    expect(`${location.origin}${location.pathname}`).toBe(`${app.issuer}/authorize`);
    const cookie = res.headers.getSetCookie()[0] as string;
    expect(cookie).toMatch(
      /^approval_sign_in=[^;]+; Max-Age=600; Path=\/approvals; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
    );
    const state = await unseal(keys.signIn, /=([^;]+)/.exec(cookie)?.[1], SignInState);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      response_type: "code",
      client_id: "page-client",
      redirect_uri: "https://mcp.test/approvals/callback",
      scope: "workflows:read workflows:approve:echo",
      resource: "https://mcp.test/mcp",
      code_challenge: createHash("sha256")
        .update(state?.verifier ?? "")
        .digest("base64url"),
      code_challenge_method: "S256",
      state: state?.state,
    });
    expect(state).toMatchObject({
      approval: id,
      asked: ["workflows:read", "workflows:approve:echo"],
    });
  });

  it("a callback without this browser's sign-in, or with another state, signs no one in", async () => {
    const none = await fetch(`${app.url}/approvals/callback?code=code-never-logged-1&state=s1`, {
      redirect: "manual",
    });
    expect(none.status).toBe(400);
    expect(headersOf(none)).toEqual(PAGE);
    expect(none.headers.getSetCookie().some((c) => c.startsWith("approval_session="))).toBe(false);
    const state: SignInState = {
      state: "the-state",
      verifier: "v".repeat(43),
      redirectUri: "https://mcp.test/approvals/callback",
      resource: "https://mcp.test/mcp",
      approval: id,
      asked: ["workflows:read"],
    };
    const other = await fetch(
      `${app.url}/approvals/callback?code=code-never-logged-2&state=another`,
      {
        redirect: "manual",
        headers: { cookie: `approval_sign_in=${await seal(keys.signIn, state, 600)}` },
      },
    );
    expect(other.status).toBe(403);
    expect(messageOf(await other.text())).toBe(
      "You are not signed in: this answer from the authorization server does not belong to the sign-in this browser started (another tab may have started a newer one).",
    );
    // The request log names the path only: never the code.
    const logged = JSON.stringify(app.logs);
    expect(logged.includes("code-never-logged")).toBe(false);
    expect(app.logs.filter((line) => line.path === "/approvals/callback").length).toBe(2);
  });

  it("asks someone signed in for another request for this one's scope, once; refused, it is not found", async () => {
    const first = await signedIn("carol", ["workflows:read"]);
    const res = await fetch(`${app.url}/approvals/${id}`, {
      redirect: "manual",
      headers: { cookie: first.cookie },
    });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get("location") as string).searchParams.get("scope")).toBe(
      "workflows:read workflows:approve:echo",
    );
    const refused = await signedIn(
      "carol",
      ["workflows:read"],
      ["workflows:read", "workflows:approve:echo"],
    );
    const notFound = await fetch(`${app.url}/approvals/${id}`, {
      redirect: "manual",
      headers: { cookie: refused.cookie },
    });
    expect(notFound.status).toBe(404);
    expect(messageOf(await notFound.text())).toBe(
      `No approval request ${id} among those you asked for or may decide, signed in as carol.`,
    );
  });

  it("the person who asked sees the request and no form; an approver sees the form", async () => {
    const asker = await signedIn("alice", ["workflows:read"]);
    const own = await fetch(`${app.url}/approvals/${id}`, { headers: { cookie: asker.cookie } });
    expect(own.status).toBe(200);
    expect(headersOf(own)).toEqual(PAGE);
    const html = await own.text();
    expect(html.includes("<form")).toBe(false);
    expect(html).toContain(`<pre id="input">[\n  &#34;hi&#34;\n]</pre>`);
    const bob = await signedIn("bob", ["workflows:read", "workflows:approve:echo"]);
    const page = await (
      await fetch(`${app.url}/approvals/${id}`, { headers: { cookie: bob.cookie } })
    ).text();
    expect(page).toContain(`<input type="hidden" name="csrf" value="${bob.csrf}">`);
  });

  it("refuses a decision without a session, a token, from another origin, or too long a reason; the requester cannot decide; an approver decides once", async () => {
    const bob = await signedIn("bob", ["workflows:approve:echo"]);
    const cases = [
      [await post(undefined, { decision: "approve", csrf: bob.csrf }), 403],
      [await post(bob.cookie, { decision: "approve" }), 403],
      [await post(bob.cookie, { decision: "approve", csrf: "forged" }), 403],
      [
        await post(
          bob.cookie,
          { decision: "approve", csrf: bob.csrf },
          { origin: "https://evil.test" },
        ),
        403,
      ],
      [
        await post(
          bob.cookie,
          { decision: "approve", csrf: bob.csrf },
          { "sec-fetch-site": "cross-site" },
        ),
        403,
      ],
      [await post(bob.cookie, { decision: "maybe", csrf: bob.csrf }), 400],
      [await post(bob.cookie, { decision: "deny", csrf: bob.csrf, reason: "r".repeat(1001) }), 400],
    ] as const;
    for (const [res, expected] of cases) {
      expect(res.status).toBe(expected);
      expect(headersOf(res)).toEqual(PAGE);
      expect(messageOf(await res.text())?.endsWith("Nothing was decided.")).toBe(true);
    }
    await expect(status()).resolves.toBe("pending");

    const asker = await signedIn("alice", ["workflows:approve:echo"]);
    const own = await post(asker.cookie, { decision: "approve", csrf: asker.csrf });
    expect(own.status).toBe(403);
    expect(messageOf(await own.text())).toBe(
      `You asked for approval request ${id}: someone else holding workflows:approve:echo (or workflows:approve) decides it. Nothing was decided.`,
    );
    await expect(status()).resolves.toBe("pending");

    const decided = await post(
      bob.cookie,
      { decision: "approve", csrf: bob.csrf, reason: " fine " },
      { origin: "null", "sec-fetch-site": "same-origin" },
    );
    expect(decided.status).toBe(303);
    expect(decided.headers.get("location")).toBe(`https://mcp.test/approvals/${id}`);
    const approval = app.approvals.view(await app.approvals.get(id, alice));
    expect(approval).toMatchObject({
      status: "approved",
      reason: "fine",
      decidedBy: { issuer: app.issuer, subject: "bob", clientId: "page-client" },
    });
    expect(approval.runId).toMatch(/^trn-/);

    const again = await post(bob.cookie, { decision: "deny", csrf: bob.csrf });
    expect(again.status).toBe(409);
    expect(messageOf(await again.text())).toMatch(
      new RegExp(
        `^Approval request ${id} was approved by bob at [0-9TZ:.-]+; decisions are final\\. Nothing was decided\\.$`,
      ),
    );
  });

  it("a form too large is a page, not a stack", async () => {
    const bob = await signedIn("bob", ["workflows:approve:echo"]);
    const res = await post(bob.cookie, {
      decision: "deny",
      csrf: bob.csrf,
      reason: "r".repeat(20_000),
    });
    expect(res.status).toBe(413);
    expect(headersOf(res)).toEqual(PAGE);
    expect(messageOf(await res.text())).toBe("This form could not be read. Nothing was decided.");
  });
});
