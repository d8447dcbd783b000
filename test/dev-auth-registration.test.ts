import { createHash, randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from "../src/auth/dev/server.js";
import { FIXED_SCOPES, supportedScopes } from "../src/auth/scopes.js";
import { createLogger } from "../src/logger.js";
import { consent } from "./helpers/oauth-client.js";

/*
 * The development authorization server, in process, as the MCP clients in
 * the field register with it and ask it for tokens: the registration payloads
 * below are modelled on what Cursor, VS Code, Claude Code, mcp-remote and the
 * MCP Inspector send (none of them sends `application_type`).
 */

const RESOURCE = "http://localhost:3999/mcp";
const LOOPBACK_RESOURCES = [RESOURCE, "http://127.0.0.1:3999/mcp", "http://[::1]:3999/mcp"];
const TASKS = ["square"];

let dev: DevAuthorizationServer;
beforeAll(async () => {
  dev = await startDevAuthorizationServer({
    port: 0,
    resource: RESOURCE,
    resources: LOOPBACK_RESOURCES,
    taskNames: TASKS,
    logger: createLogger("silent"),
  });
});
afterAll(async () => {
  await dev?.close();
});

async function register(metadata: Record<string, unknown>) {
  const res = await fetch(`${dev.issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(metadata),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** What each client registers, as it sends it. */
const CLIENTS = {
  Cursor: {
    client_name: "Cursor",
    redirect_uris: ["cursor://anysphere.cursor-retrieval/oauth/user-workflows/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  },
  "VS Code": {
    client_name: "Visual Studio Code",
    redirect_uris: ["http://127.0.0.1:33418", "https://vscode.dev/redirect"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  },
  "Claude Code": {
    client_name: "Claude Code (workflows)",
    redirect_uris: ["http://localhost:54212/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    scope: "workflows:read",
  },
  "mcp-remote": {
    client_name: "MCP CLI Proxy",
    client_uri: "https://github.com/modelcontextprotocol/mcp-cli",
    redirect_uris: ["http://localhost:3334/oauth/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    software_id: "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
    software_version: "0.1.15",
  },
  "MCP Inspector": {
    client_name: "MCP Inspector",
    client_uri: "https://github.com/modelcontextprotocol/inspector",
    redirect_uris: [
      "http://localhost:6274/oauth/callback",
      "http://localhost:6274/oauth/callback/debug",
    ],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    scope: supportedScopes(TASKS).join(" "),
  },
} satisfies Record<string, Record<string, unknown>>;

/** An authorization request with PKCE for `resource`, as the MCP clients make it. */
function authorization(clientId: string, redirectUri: string, scope: string, resource = RESOURCE) {
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(`${dev.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope,
    state: "s",
    resource,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  return { url, verifier };
}

async function exchange(clientId: string, redirectUri: string, code: string, verifier: string) {
  const res = await fetch(`${dev.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: clientId,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("registration as real MCP clients send it", () => {
  it.each(Object.entries(CLIENTS))(
    "%s: registered as a native public client, then authorized to a token",
    async (_name, metadata) => {
      const { status, body } = await register(metadata);
      expect(status).toBe(201);
      expect(body).toMatchObject({
        application_type: "native",
        redirect_uris: metadata.redirect_uris,
        token_endpoint_auth_method: "none",
        response_types: ["code"],
        grant_types: ["authorization_code", "refresh_token"],
      });
      const redirectUri = metadata.redirect_uris[0] as string;
      const { url, verifier } = authorization(
        String(body.client_id),
        redirectUri,
        "workflows:read",
      );
      const { redirect } = await consent(url, {}, redirectUri);
      expect(redirect.href.startsWith(redirectUri)).toBe(true);
      expect(redirect.searchParams.get("iss")).toBe(dev.issuer);
      const code = redirect.searchParams.get("code") as string;
      const token = await exchange(String(body.client_id), redirectUri, code, verifier);
      expect(token.status).toBe(200);
      expect(decodeJwt(token.body.access_token as string)).toMatchObject({
        aud: RESOURCE,
        scope: "workflows:read",
        client_id: body.client_id,
      });
    },
  );

  it("a client with https callbacks only stays a web client", async () => {
    const { status, body } = await register({
      client_name: "Claude",
      redirect_uris: ["https://claude.ai/api/mcp/auth_callback"],
      token_endpoint_auth_method: "none",
    });
    expect(status).toBe(201);
    expect(body.application_type).toBe("web");
  });

  it("an explicit application_type is kept: web with a custom scheme is refused as before", async () => {
    const { status, body } = await register({
      application_type: "web",
      redirect_uris: ["cursor://anysphere.cursor-retrieval/oauth/callback"],
      token_endpoint_auth_method: "none",
    });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: "invalid_redirect_uri",
      error_description: "redirect_uris must only contain web uris",
    });
  });

  it.each([
    [
      "plain http to another host",
      "http://evil.example/callback",
      "redirect_uris: http://evil.example/callback is plain http to a host other than this machine: use https, or a loopback address (127.0.0.1, [::1], localhost)",
    ],
    [
      "a fragment",
      "http://127.0.0.1:4000/callback#x",
      "redirect_uris: http://127.0.0.1:4000/callback#x has a fragment",
    ],
    [
      "a wildcard host",
      "https://*.example.com/callback",
      "redirect_uris: https://*.example.com/callback has a wildcard: register the exact callback",
    ],
    [
      "a wildcard path",
      "cursor://anysphere.cursor-retrieval/*",
      "redirect_uris: cursor://anysphere.cursor-retrieval/* has a wildcard: register the exact callback",
    ],
  ])("refuses %s", async (_what, redirectUri, description) => {
    const { status, body } = await register({
      client_name: "unsafe",
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
    });
    expect(status).toBe(400);
    expect(body).toEqual({ error: "invalid_redirect_uri", error_description: description });
  });
});

describe("OAuth 2.1 flows only", () => {
  it("advertises the authorization code flow alone: no implicit, no hybrid", async () => {
    const metadata = (await (
      await fetch(`${dev.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(metadata.response_types_supported).toEqual(["code"]);
    expect(metadata.grant_types_supported).toEqual(["authorization_code", "refresh_token"]);
  });

  it("refuses to register a client for the implicit or hybrid flow", async () => {
    for (const responseType of ["code id_token", "id_token", "token"]) {
      const { status, body } = await register({
        redirect_uris: ["http://127.0.0.1:4000/callback"],
        response_types: [responseType],
        token_endpoint_auth_method: "none",
      });
      expect(status).toBe(400);
      expect(body.error).toBe("invalid_client_metadata");
      expect(String(body.error_description)).toMatch(/^response_types /);
    }
  });

  it("refuses an authorization request for an id_token: unsupported_response_type", async () => {
    const redirectUri = "http://127.0.0.1:4000/callback";
    const { body } = await register({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
    });
    const { url } = authorization(String(body.client_id), redirectUri, "openid");
    url.searchParams.set("response_type", "id_token");
    url.searchParams.set("nonce", "n");
    const res = await fetch(url, { redirect: "manual" });
    expect(res.status).toBe(303);
    // An error for an implicit request goes back in the fragment, as that flow would read it.
    const redirect = new URL(res.headers.get("location") as string);
    expect(Object.fromEntries(new URLSearchParams(redirect.hash.slice(1)))).toEqual({
      error: "unsupported_response_type",
      error_description: "unsupported response_type requested",
      state: "s",
      iss: dev.issuer,
    });
  });
});

describe("least-privilege consent", () => {
  it("a client asking for every scope gets only the narrow ones pre-selected; each broad one says why", async () => {
    const client = CLIENTS["MCP Inspector"];
    const { body } = await register(client);
    const [redirectUri] = client.redirect_uris as [string, ...string[]];
    const { url } = authorization(String(body.client_id), redirectUri, client.scope);
    const { page } = await consent(url, { deny: true }, redirectUri);
    const checked = [...page.matchAll(/name="scope" value="([^"]+)"( checked)?>/g)].map((m) => [
      m[1],
      m[2] === " checked",
    ]);
    expect(checked).toEqual([
      ["workflows:read", true],
      ["workflows:read:all", false],
      ["workflows:run", false],
      ["workflows:cancel", true],
      ["workflows:cancel:all", false],
      ["workflows:approve", false],
      ["workflows:admin", false],
      ["workflows:run:square", true],
    ]);
    expect(page).toContain(
      '<small class="why-broad">Broad: it includes every other scope, and shows who did what. Not selected unless you check it.</small>',
    );
    expect(page).toContain(
      '<small class="why-broad">Broad: it starts every task, tasks added later included; a task&#39;s own scope starts that task only. Not selected unless you check it.</small>',
    );
    expect(page.match(/class="why-broad"/g)).toHaveLength(5);

    // Approving the page as it stands (what starts checked) grants exactly the narrow scopes.
    const again = authorization(String(body.client_id), redirectUri, client.scope);
    const narrow = ["workflows:read", "workflows:cancel", "workflows:run:square"];
    const approved = await consent(again.url, { scopes: narrow }, redirectUri);
    const token = await exchange(
      String(body.client_id),
      redirectUri,
      approved.redirect.searchParams.get("code") as string,
      again.verifier,
    );
    expect(decodeJwt(token.body.access_token as string).scope).toBe(narrow.join(" "));
  });

  it("a scope is broad when its declaration says so, and every scope implying others says so", async () => {
    const { offeredScope } = await import("../src/auth/dev/consent.js");
    const { SCOPES } = await import("../src/auth/scopes.js");
    for (const scope of FIXED_SCOPES) {
      const declared = SCOPES[scope] as {
        implies: readonly string[];
        impliesEveryTaskScope?: true;
        broad?: string;
      };
      // Broad exactly as declared (a scope implying nothing, such as an approval scope, may be).
      expect(offeredScope(scope).broad).toBe(declared.broad);
      expect(offeredScope(scope).checked).toBe(declared.broad === undefined);
      if (declared.implies.length > 0 || declared.impliesEveryTaskScope) {
        expect(declared.broad, `${scope} reaches other scopes`).toEqual(expect.any(String));
      }
    }
    expect(offeredScope("workflows:run:square")).toEqual({
      name: "workflows:run:square",
      meaning: "Start runs of the task square",
      checked: true,
    });
    expect(offeredScope("offline_access").checked).toBe(true);
    expect(offeredScope("toString")).toEqual({
      name: "toString",
      meaning: "No description",
      checked: false,
    });
  });
});

describe("tokens for each loopback name of the resource", () => {
  it.each(LOOPBACK_RESOURCES)(
    "mints a token whose audience is %s when asked for it",
    async (resource) => {
      const redirectUri = "http://127.0.0.1:4000/callback";
      const { body } = await register({
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: "none",
      });
      const { url, verifier } = authorization(
        String(body.client_id),
        redirectUri,
        "workflows:read",
        resource,
      );
      const { redirect } = await consent(url, {}, redirectUri);
      const token = await exchange(
        String(body.client_id),
        redirectUri,
        redirect.searchParams.get("code") as string,
        verifier,
      );
      expect(decodeJwt(token.body.access_token as string).aud).toBe(resource);
    },
  );

  it("refuses any other resource: invalid_target", async () => {
    const redirectUri = "http://127.0.0.1:4000/callback";
    const { body } = await register({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
    });
    const { url } = authorization(
      String(body.client_id),
      redirectUri,
      "workflows:read",
      "http://localhost:4000/mcp",
    );
    const { redirect } = await consent(url, {}, redirectUri);
    expect(Object.fromEntries(redirect.searchParams)).toMatchObject({
      error: "invalid_target",
      error_description: `this development server issues tokens for ${LOOPBACK_RESOURCES.join(", ")} only`,
    });
  });
});
