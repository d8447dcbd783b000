import { createHash, randomBytes } from "node:crypto";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DevAuthorizationServer,
  oidcProviderWarnsAboutRuntime,
  startDevAuthorizationServer,
  startupNotice,
} from "../src/auth/dev/server.js";
import { requestDevToken, TokenCommandError, USAGE } from "../src/auth/dev/token-client.js";
import { TokenRejected } from "../src/auth/errors.js";
import { FIXED_SCOPES, supportedScopes } from "../src/auth/scopes.js";
import { createJwtVerifier } from "../src/auth/verifier.js";
import { isProductionEnv } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { consent } from "./helpers/oauth-client.js";

/*
 * The development authorization server, in process: started with
 * startDevAuthorizationServer, next to a loopback stand-in for the MCP
 * server's Protected Resource Metadata (all the token command reads from it).
 */

const TASKS = ["square", "greet"];
/** Scope names that are also Object.prototype members, and markup: the consent page must survive them. */
const HOSTILE_SCOPES = ["constructor", "toString", "__proto__", "<b>bold</b>"];
/** Task names that are Object.prototype members too: their per-task scopes must be explained. */
const HOSTILE_TASKS = ["constructor", "__proto__"];

let dev: DevAuthorizationServer;
let prm: Server;
let server: string;
let resource: string;
let callback: Server;
let redirectUri: string;
/** stderr writes and console.warn calls while oidc-provider was first loaded, in order. */
const startup: { via: "stderr" | "console.warn"; text: string }[] = [];

beforeAll(async () => {
  prm = createServer((req, res) => {
    if (req.url === "/.well-known/oauth-protected-resource/mcp") {
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          resource,
          authorization_servers: [dev.issuer],
          scopes_supported: supportedScopes([...TASKS, ...HOSTILE_TASKS]),
          bearer_methods_supported: ["header"],
        }),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => prm.listen(0, "127.0.0.1", resolve));
  server = `http://127.0.0.1:${(prm.address() as AddressInfo).port}`;
  resource = `${server}/mcp`;
  // Where a desktop client listens for the redirect (it is never actually followed here).
  callback = createServer((_req, res) => res.end("You can close this window."));
  await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

  const write = process.stderr.write;
  const warn = console.warn;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    startup.push({ via: "stderr", text: String(chunk) });
    return (write as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
  }) as typeof process.stderr.write;
  console.warn = (...args: unknown[]) => {
    startup.push({ via: "console.warn", text: args.map(String).join(" ") });
    warn(...args);
  };
  try {
    dev = await startDevAuthorizationServer({
      port: 0,
      resource,
      taskNames: [...TASKS, ...HOSTILE_TASKS],
      logger: createLogger("silent"),
    });
  } finally {
    process.stderr.write = write;
    console.warn = warn;
  }
});

afterAll(async () => {
  await dev?.close();
  prm?.close();
  callback?.close();
});

/** A request with headers fetch will not send (Host), answered as raw status, headers and JSON body. */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? "GET", headers: options.headers },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

async function register(metadata: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${dev.issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(metadata),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** What a client wanting a token without any person consenting would register. */
const MACHINE_CLIENT = {
  client_name: "machine",
  grant_types: ["client_credentials"],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: "client_secret_basic",
};

/** An MCP client as MCP 2026-07-28 registers one: native, loopback redirect, public. */
async function registerNativeClient() {
  const { status, body } = await register({
    client_name: "Native MCP Client",
    application_type: "native",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  });
  expect(status).toBe(201);
  return body;
}

function authorizationUrl(clientId: string, scope: string) {
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(`${dev.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope,
    state: "state-1",
    resource,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  return { url, verifier };
}

describe("metadata", () => {
  it("is on loopback, with RFC 8414 metadata equal to OpenID discovery", async () => {
    expect(dev.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const metadata = (await (
      await fetch(`${dev.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: dev.issuer,
      code_challenge_methods_supported: ["S256"],
      grant_types_supported: expect.arrayContaining(["authorization_code", "refresh_token"]),
      registration_endpoint: `${dev.issuer}/reg`,
      // RFC 9207, which MCP 2026-07-28 asks authorization servers to support.
      authorization_response_iss_parameter_supported: true,
      scopes_supported: expect.arrayContaining(["workflows:run:square", "workflows:admin"]),
    });
    const rfc8414 = await (
      await fetch(`${dev.issuer}/.well-known/oauth-authorization-server`)
    ).json();
    expect(rfc8414).toEqual(metadata);
  });

  it.runIf(typeof URL.parse === "function")(
    "advertises Client ID Metadata Documents (skipped only on a runtime without URL.parse)",
    async () => {
      expect(dev.clientIdMetadataDocuments).toBe(true);
      const metadata = (await (
        await fetch(`${dev.issuer}/.well-known/openid-configuration`)
      ).json()) as Record<string, unknown>;
      expect(metadata.client_id_metadata_document_supported).toBe(true);
    },
  );
});

describe("DNS rebinding: only its own loopback Host is answered", () => {
  it.each([
    ["discovery", "GET", "/.well-known/openid-configuration"],
    ["registration", "POST", "/reg"],
    ["token", "POST", "/token"],
    ["consent", "GET", "/interaction/anything"],
  ])("%s with Host evil.example is refused", async (_name, method, path) => {
    const port = new URL(dev.issuer).port;
    const res = await raw(`${dev.issuer}${path}`, {
      method,
      headers: { host: `evil.example:${port}`, "content-type": "application/json" },
      body: method === "POST" ? JSON.stringify(MACHINE_CLIENT) : undefined,
    });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: "invalid_request",
      error_description: `this development authorization server answers only to Host 127.0.0.1:${port} or localhost:${port}`,
    });
  });

  it("a wrong port or no port is refused too; localhost:PORT is answered", async () => {
    const port = new URL(dev.issuer).port;
    for (const host of [
      "127.0.0.1",
      `127.0.0.1:${Number(port) + 1}`,
      `127.0.0.1.evil.example:${port}`,
    ]) {
      const res = await raw(`${dev.issuer}/.well-known/openid-configuration`, {
        headers: { host },
      });
      expect(res.status).toBe(403);
    }
    const res = await raw(`${dev.issuer}/.well-known/openid-configuration`, {
      headers: { host: `LOCALHOST:${port}` },
    });
    expect(res.status).toBe(200);
  });
});

describe("no token without the consent page", () => {
  it("client_credentials is not offered: neither advertised nor registrable", async () => {
    const metadata = (await (
      await fetch(`${dev.issuer}/.well-known/openid-configuration`)
    ).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).not.toContain("client_credentials");
    const { status, body } = await register(MACHINE_CLIENT);
    expect(status).toBe(400);
    expect(body.error).toBe("invalid_client_metadata");
  });
});

describe("CORS on the token endpoint", () => {
  /** A code exchange with a code that does not exist: enough to reach the CORS decision. */
  const exchange = (clientId: string, origin: string) =>
    fetch(`${dev.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: clientId,
        code: "no-such-code",
        redirect_uri: redirectUri,
        code_verifier: "v".repeat(43),
      }),
    });

  it("is granted to a public client from the origin of its redirect URI (a browser-based MCP client)", async () => {
    const client = await registerNativeClient();
    const origin = new URL(redirectUri).origin;
    const res = await exchange(String(client.client_id), origin);
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(await res.json()).toMatchObject({ error: "invalid_grant" });
  });

  it.each(["https://evil.example", "http://localhost:6274", "null"])(
    "is refused to that client from %s",
    async (origin) => {
      const client = await registerNativeClient();
      const res = await exchange(String(client.client_id), origin);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(await res.json()).toEqual({
        error: "invalid_request",
        error_description: `origin ${origin} not allowed for client: ${client.client_id}`,
      });
    },
  );
});

describe("authorization code flow", () => {
  it("registers a native client with a loopback redirect URI (application_type: native)", async () => {
    const client = await registerNativeClient();
    expect(client).toMatchObject({
      application_type: "native",
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
    });
  });

  it("grants per-task scopes, puts them in the token, and names the issuer in the redirect (RFC 9207)", async () => {
    const client = await registerNativeClient();
    const { url, verifier } = authorizationUrl(
      String(client.client_id),
      "workflows:read workflows:run:square",
    );
    const { page, redirect } = await consent(url, { username: "ada" }, redirectUri);
    expect(page).toContain(
      "<code>workflows:run:square</code><small>Start runs of the task square</small>",
    );
    expect(redirect.searchParams.get("iss")).toBe(dev.issuer);
    expect(redirect.searchParams.get("state")).toBe("state-1");

    const res = await fetch(`${dev.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: String(client.client_id),
        code: redirect.searchParams.get("code") as string,
        redirect_uri: redirectUri,
        code_verifier: verifier,
        resource,
      }),
    });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    expect(decodeJwt(access_token)).toMatchObject({
      iss: dev.issuer,
      aud: resource,
      sub: "ada",
      client_id: client.client_id,
      scope: "workflows:read workflows:run:square",
    });
    // Accepted through the ordinary path: discovery, JWKS, signature, claims.
    const verifierOfMcp = createJwtVerifier({
      issuer: dev.issuer,
      audiences: [resource],
      algorithms: ["ES256"],
    });
    await expect(verifierOfMcp.verifyAccessToken(access_token)).resolves.toMatchObject({
      scopes: ["workflows:read", "workflows:run:square"],
      extra: { subject: "ada", issuer: dev.issuer },
    });
  });

  it("a denial reaches the client as access_denied, with iss", async () => {
    const client = await registerNativeClient();
    const { url } = authorizationUrl(String(client.client_id), "workflows:read");
    const { redirect } = await consent(url, { deny: true }, redirectUri);
    expect(Object.fromEntries(redirect.searchParams)).toMatchObject({
      error: "access_denied",
      iss: dev.issuer,
      state: "state-1",
    });
  });
});

describe("the consent page", () => {
  it("survives scope names that are Object.prototype members or markup: escaped, 'No description'", async () => {
    const client = await registerNativeClient();
    const { url } = authorizationUrl(
      String(client.client_id),
      [
        ...HOSTILE_SCOPES,
        "workflows:admin",
        "workflows:run:constructor",
        "workflows:run:__proto__",
      ].join(" "),
    );
    const { page } = await consent(url, { deny: true }, redirectUri);
    expect(page).toContain(
      "<code>workflows:run:constructor</code><small>Start runs of the task constructor</small>",
    );
    expect(page).toContain(
      "<code>workflows:run:__proto__</code><small>Start runs of the task __proto__</small>",
    );
    for (const name of ["constructor", "toString", "__proto__"]) {
      expect(page).toContain(`<code>${name}</code><small>No description</small>`);
    }
    expect(page).toContain("<code>&#60;b&#62;bold&#60;/b&#62;</code><small>No description</small>");
    expect(page).not.toContain("<b>bold</b>");
    expect(page).toContain(
      "<code>workflows:admin</code><small>Everything above, and the audit trail of who started, cancelled, asked for or decided what</small>",
    );
  });

  it("cannot be framed", async () => {
    const client = await registerNativeClient();
    const { url } = authorizationUrl(String(client.client_id), "workflows:read");
    const { pageHeaders } = await consent(url, { deny: true }, redirectUri);
    expect(pageHeaders.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(pageHeaders.get("x-frame-options")).toBe("DENY");
    expect(pageHeaders.get("cache-control")).toBe("no-store");
  });
});

describe("the token command (npm run token)", () => {
  it("prints a token with the scopes asked for, per-task scopes included, for the developer", async () => {
    const { token, scopes } = await requestDevToken({ server, scopes: ["workflows:run:square"] });
    expect(scopes).toEqual(["workflows:run:square"]);
    expect(decodeJwt(token)).toMatchObject({
      iss: dev.issuer,
      aud: resource,
      sub: "developer",
      scope: "workflows:run:square",
    });
  });

  it("--user names whose token it is: the same name every time, so its runs stay its own", async () => {
    const first = await requestDevToken({ server, user: "alice", scopes: ["workflows:read"] });
    const second = await requestDevToken({ server, user: "alice", scopes: ["workflows:read"] });
    const bob = await requestDevToken({ server, user: "bob", scopes: ["workflows:read"] });
    expect(decodeJwt(first.token).sub).toBe("alice");
    expect(decodeJwt(second.token).sub).toBe("alice");
    expect(decodeJwt(bob.token).sub).toBe("bob");
    expect(USAGE).toContain("--user NAME");
  });

  it("with no scopes named, asks for every fixed scope (the per-task ones only when named)", async () => {
    const { token } = await requestDevToken({ server });
    expect(decodeJwt(token).scope).toBe(FIXED_SCOPES.join(" "));
    expect(USAGE).toContain("With none: every fixed scope the server supports");
  });

  it("its token is accepted through the ordinary JWKS path; the same claims signed by another key are not", async () => {
    const { token } = await requestDevToken({
      server,
      scopes: ["workflows:read", "workflows:run"],
    });
    const verifier = createJwtVerifier({
      issuer: dev.issuer,
      audiences: [resource],
      algorithms: ["ES256"],
    });
    await expect(verifier.verifyAccessToken(token)).resolves.toMatchObject({
      scopes: ["workflows:read", "workflows:run"],
    });
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt" })
      .sign(privateKey);
    const error = await verifier.verifyAccessToken(forged).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenRejected);
    expect((error as TokenRejected).code).toBe("ERR_TOKEN_SIGNATURE_INVALID");
  });

  it("refuses an unknown scope with a message naming the known ones", async () => {
    await expect(requestDevToken({ server, scopes: ["workflows:run:cube"] })).rejects.toEqual(
      new TokenCommandError(
        `unknown scope workflows:run:cube; the server knows ${supportedScopes([...TASKS, ...HOSTILE_TASKS]).join(", ")}`,
      ),
    );
  });

  it("tells the user to start the server when it is not running", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(requestDevToken({ server: url })).rejects.toEqual(
      new TokenCommandError(
        `cannot reach ${url}/.well-known/oauth-protected-resource/mcp — is the server running? Start it with \`npm start\`.`,
      ),
    );
  });
});

describe("guards", () => {
  it.each(["production", "Production", "PRODUCTION", " production "])(
    "refuses to start with NODE_ENV=%j",
    async (nodeEnv) => {
      expect(isProductionEnv(nodeEnv)).toBe(true);
      const saved = process.env.NODE_ENV;
      process.env.NODE_ENV = nodeEnv;
      try {
        await expect(
          startDevAuthorizationServer({
            port: 0,
            resource,
            taskNames: [],
            logger: createLogger("silent"),
          }),
        ).rejects.toThrow(
          "the development authorization server never runs with NODE_ENV=production",
        );
      } finally {
        process.env.NODE_ENV = saved;
      }
    },
  );

  it.each([undefined, "", "development", "test", "productions"])(
    "NODE_ENV=%j is not production",
    (nodeEnv) => {
      expect(isProductionEnv(nodeEnv)).toBe(false);
    },
  );
});

describe("oidc-provider's warnings", () => {
  it("'Unsupported runtime' is expected exactly where oidc-provider emits it: before Node 22 LTS (Jod) and on non-LTS releases", () => {
    expect(oidcProviderWarnsAboutRuntime({ lts: "Iron" })).toBe(true); // Node 20
    expect(oidcProviderWarnsAboutRuntime({ lts: "Jod" })).toBe(false); // Node 22
    expect(oidcProviderWarnsAboutRuntime({ lts: "Krypton" })).toBe(false); // Node 24
    expect(oidcProviderWarnsAboutRuntime({})).toBe(true); // a Current release
  });

  it("explains both warnings where both come, and only the in-memory one on Node 22", () => {
    expect(startupNotice(true)).toBe(
      [
        "workflows-mcp: the development authorization server (oidc-provider) prints the warnings below; they are expected:",
        `  - "Unsupported runtime": its authors support Node.js 22 LTS and later. It works on Node.js ${process.version} for development; Node.js 22 (as on Render) silences this.`,
        '  - "in-memory adapter": by design. Keys, clients and grants live in memory: a restart invalidates tokens and clients, which simply authorize again.',
        "  It listens on 127.0.0.1 only and never runs with NODE_ENV=production.\n",
      ].join("\n"),
    );
    expect(startupNotice(false)).not.toContain("Unsupported runtime");
    expect(startupNotice(false)).toContain("prints the warning below; it is expected:");
  });

  it("our explanation is printed once, before oidc-provider's warnings", () => {
    const notice = startup.findIndex((e) => e.text === startupNotice());
    expect(startup.filter((e) => e.text === startupNotice())).toHaveLength(1);
    const warnings = startup.flatMap((e, i) =>
      e.text.includes("oidc-provider WARNING") ? [i] : [],
    );
    // The in-memory adapter warning comes at every start, so at least that one is seen.
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    for (const index of warnings) expect(notice).toBeLessThan(index);
    const adapter = startup.some((e) => e.text.includes("in-memory adapter is used"));
    expect(adapter).toBe(true);
  });
});
