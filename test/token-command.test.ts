import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "./helpers/server.js";

/*
 * `npm run token` as a person runs it, in another terminal than `npm start`:
 * the built command, spawned with its own environment and working directory.
 */

const CLI = fileURLToPath(new URL("../dist/src/auth/dev/token-cli.js", import.meta.url));

let dir: string;
let server: RunningServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-token-"));
  // Started in its own folder, as `npm start` is in a checkout: it notes itself there.
  server = await startServer({ LOCAL_DB_PATH: join(dir, "runs.sqlite") }, { cwd: dir });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function token(args: string[], env: Record<string, string> = {}, cwd = dir) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const [code] = await once(child, "exit");
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}

const resourceOf = (port: number) => `http://localhost:${port}/mcp`;

describe("npm run token finds the server and says what it got", () => {
  it("with neither --server nor PORT, asks the server npm start noted in this folder (on any port)", async () => {
    expect(JSON.parse(readFileSync(join(dir, ".workflows-mcp-dev.json"), "utf8"))).toEqual({
      pid: server.child.pid,
      server: `http://localhost:${server.port}`,
    });
    const { code, stdout, stderr } = await token(["workflows:read"]);
    expect(code).toBe(0);
    const jwt = stdout.trim();
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ aud: resourceOf(server.port), sub: "developer" });
    const minutes = Math.round(((claims.exp as number) * 1000 - Date.now()) / 60_000);
    expect(stderr).toBe(
      `token: for developer at ${resourceOf(server.port)}, from http://localhost:${server.port} (the server npm start noted in .workflows-mcp-dev.json); scopes: workflows:read\n` +
        `token: expires in ${minutes} minutes, at ${new Date((claims.exp as number) * 1000).toISOString()}; for longer-lived tokens, start the server with AUTH_DEV_ACCESS_TOKEN_TTL=<seconds> (up to 86400)\n`,
    );
    expect(stderr).not.toContain(jwt);
  });

  it("follows PORT", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "workflows-mcp-token-port-"));
    try {
      const { code, stdout, stderr } = await token([], { PORT: String(server.port) }, elsewhere);
      expect(code).toBe(0);
      expect(decodeJwt(stdout.trim()).aud).toBe(resourceOf(server.port));
      expect(stderr).toContain(`from http://localhost:${server.port} (PORT)`);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("--server wins over PORT", async () => {
    const { code, stdout, stderr } = await token(["--server", `http://127.0.0.1:${server.port}`], {
      PORT: "1",
    });
    expect(code).toBe(0);
    expect(decodeJwt(stdout.trim()).aud).toBe(`http://127.0.0.1:${server.port}/mcp`);
    expect(stderr).toContain(`from http://127.0.0.1:${server.port} (--server)`);
  });

  it("a note left by a server that is gone is ignored, and removed by a server that stops", async () => {
    const note = join(dir, ".workflows-mcp-dev.json");
    await server.stop();
    expect(existsSync(note)).toBe(false);
    writeFileSync(note, JSON.stringify({ pid: server.child.pid, server: "http://localhost:9" }));
    const { code, stderr } = await token(["workflows:read"]);
    // The default port is asked instead (on a shared machine something may answer there).
    expect(stderr).not.toContain("localhost:9");
    if (code === 0)
      expect(stderr).toContain("(the default port; set PORT or --server for another)");
    else
      expect(stderr).toBe(
        "token: cannot reach http://localhost:3000/.well-known/oauth-protected-resource/mcp — is the server running? Start it with `npm start`.\n",
      );
  });
});
