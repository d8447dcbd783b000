import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchFailure } from "../src/auth/fetch-failure.js";
import { bindingFailure } from "../src/sqlite-binding.js";
import { runServerExpectingExit, startServer } from "./helpers/server.js";

/*
 * What the server says when it cannot do what was asked at start: one whole
 * line naming the cause and what to change.
 */

let dir: string;
const listeners: Server[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-start-"));
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => new Promise((resolve) => l.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

/** A plain HTTP server on a loopback port of its own (to occupy a port, or to be spoken TLS to). */
async function listener(port = 0): Promise<number> {
  const server = createServer((_req, res) => res.end("not an issuer"));
  listeners.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return (server.address() as AddressInfo).port;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("better-sqlite3 built for another Node.js", () => {
  // Node's own words, as `npm ci` under Node 20 then `npm start` under Node 22 gets them.
  const nodeError = Object.assign(
    new Error(
      "The module '/home/me/workflows-mcp/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 127. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).",
    ),
    { code: "ERR_DLOPEN_FAILED" },
  );

  it("names both Node.js versions and the command, in one line, without blaming LOCAL_DB_PATH", () => {
    const line = bindingFailure(nodeError, { version: "v22.23.5", modules: "127" });
    expect(line).toBe(
      "better-sqlite3 was built for Node.js 20 (NODE_MODULE_VERSION 115), and this is Node.js v22.23.5 (NODE_MODULE_VERSION 127): run `npm rebuild better-sqlite3` (or `npm ci`) with the Node.js you start the server with",
    );
    expect(line).not.toContain("\n");
    expect(line).not.toContain("LOCAL_DB_PATH");
  });

  it("an unknown module version and any other load failure still say what to run", () => {
    expect(
      bindingFailure(
        new Error(
          "compiled against NODE_MODULE_VERSION 999. This version of Node.js requires NODE_MODULE_VERSION 127.",
        ),
        { version: "v22.23.5", modules: "127" },
      ),
    ).toBe(
      "better-sqlite3 was built for another Node.js (NODE_MODULE_VERSION 999), and this is Node.js v22.23.5 (NODE_MODULE_VERSION 127): run `npm rebuild better-sqlite3` (or `npm ci`) with the Node.js you start the server with",
    );
    expect(bindingFailure(new Error("Could not locate the bindings file."))).toBe(
      "better-sqlite3's native module cannot be loaded (Could not locate the bindings file.): run `npm rebuild better-sqlite3` (or `npm ci`) with the Node.js you start the server with",
    );
  });
});

describe("ports in use", () => {
  it("AUTH_DEV_PORT set to a port in use: says so, and how to change it", async () => {
    const taken = await listener();
    const { code, stderr } = await runServerExpectingExit({
      AUTH_DEV_PORT: String(taken),
      LOCAL_DB_PATH: join(dir, "a.sqlite"),
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `workflows-mcp cannot start:\n  AUTH_DEV_PORT: port ${taken} on 127.0.0.1 is already in use: set AUTH_DEV_PORT to a free port (or leave it unset for PORT + 1)\n`,
    );
  });

  it("AUTH_DEV_PORT unset and PORT + 1 in use: says it defaults to PORT + 1, and how to change either", async () => {
    // A free PORT whose next port is taken (by us).
    for (let attempt = 0; ; attempt++) {
      const taken = await listener();
      const port = taken - 1;
      const { code, stderr } = await runServerExpectingExit({
        PORT: String(port),
        AUTH_DEV_PORT: undefined,
        LOCAL_DB_PATH: join(dir, "b.sqlite"),
      });
      if (stderr.includes(`PORT: ${port} is already in use`) && attempt < 5) continue;
      expect(code).toBe(1);
      expect(stderr).toContain(
        `  AUTH_DEV_PORT: port ${taken} on 127.0.0.1 is already in use. The development authorization server's port defaults to PORT + 1 (${port} + 1): set AUTH_DEV_PORT to a free port, or PORT to a port whose next one is free too\n`,
      );
      return;
    }
  });

  it("PORT in use: says to stop what uses it or choose another", async () => {
    const taken = await listener();
    const { code, stderr } = await runServerExpectingExit({
      PORT: String(taken),
      LOCAL_DB_PATH: join(dir, "c.sqlite"),
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      `workflows-mcp cannot start:\n  PORT: ${taken} is already in use on 127.0.0.1: stop what uses it, or set PORT to a free port\n`,
    );
  });
});

describe("an AUTH_ISSUER that cannot be reached names the cause and the variable", () => {
  it("connection refused: in the log and in the banner", async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    const server = await startServer({
      AUTH_ISSUER: issuer,
      PUBLIC_URL: "http://mcp.test",
      LOCAL_DB_PATH: join(dir, "d.sqlite"),
    });
    try {
      const refused = "connection refused: nothing listens at that address and port";
      const logged = server.logs.find((l) => l.msg === "issuer metadata discovery failed");
      expect(logged).toMatchObject({
        issuer,
        check: "AUTH_ISSUER",
        reason: `could not discover jwks_uri for ${issuer} (${issuer}/.well-known/oauth-authorization-server: ${refused}; ${issuer}/.well-known/openid-configuration: ${refused})`,
      });
      await expect
        .poll(() => server.output.find((line) => line.startsWith("  Issuer keys")), {
          timeout: 5_000,
        })
        .toBe(
          `  Issuer keys           not loaded yet: /healthz answers 503 until they are (could not discover jwks_uri for ${issuer} (${issuer}/.well-known/oauth-authorization-server: ${refused}; ${issuer}/.well-known/openid-configuration: ${refused}); check AUTH_ISSUER)`,
        );
    } finally {
      await server.stop();
    }
  });

  it("a TLS error (https to a server that speaks plain http) is named as one, with AUTH_JWKS_URL to check", async () => {
    const port = await listener();
    const server = await startServer({
      AUTH_ISSUER: "https://issuer.test",
      AUTH_JWKS_URL: `https://127.0.0.1:${port}/jwks`,
      PUBLIC_URL: "http://mcp.test",
      LOG_LEVEL: "info",
      LOCAL_DB_PATH: join(dir, "e.sqlite"),
    });
    try {
      await expect
        .poll(() => server.logs.find((l) => l.msg === "issuer JWKS fetch failed"), {
          timeout: 5_000,
        })
        .toMatchObject({
          jwksUrl: `https://127.0.0.1:${port}/jwks`,
          check: "AUTH_JWKS_URL",
          reason:
            "TLS error: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER): the server does not speak TLS there (http://?)",
        });
    } finally {
      await server.stop();
    }
  });

  it("a DNS failure and the other causes Node's fetch hides behind `fetch failed`", () => {
    const failed = (code: string, message = code) =>
      Object.assign(new TypeError("fetch failed"), {
        cause: Object.assign(new Error(message), { code }),
      });
    expect(fetchFailure(failed("ENOTFOUND", "getaddrinfo ENOTFOUND issuer.example"))).toBe(
      "DNS lookup failed: no such host name",
    );
    expect(fetchFailure(failed("EAI_AGAIN"))).toBe(
      "DNS lookup failed: no DNS server answered (try again, or check the host name)",
    );
    expect(fetchFailure(failed("CERT_HAS_EXPIRED", "certificate has expired"))).toBe(
      "TLS error: certificate has expired (CERT_HAS_EXPIRED)",
    );
    expect(fetchFailure(failed("UND_ERR_CONNECT_TIMEOUT"))).toBe("connection timed out");
    expect(fetchFailure(new Error("HTTP 500"))).toBe("HTTP 500");
  });
});
