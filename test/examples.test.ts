import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestDevToken } from "../src/auth/dev/token-client.js";
import { type RunningServer, startServer } from "./helpers/server.js";

/*
 * The client recipes in examples/, built and run as the README says, against
 * the real server started as `npm start` starts it (the bundled tasks, the
 * development authorization server): they stay true because they run here.
 */

const example = (name: string) =>
  fileURLToPath(new URL(`../dist/examples/${name}.js`, import.meta.url));

let server: RunningServer;
let dir: string;
let token: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "workflows-mcp-examples-"));
  server = await startServer({ LOCAL_DB_PATH: join(dir, "runs.sqlite") });
  ({ token } = await requestDevToken({
    server: new URL(server.mcpUrl).origin,
    scopes: ["workflows:read", "workflows:run"],
  }));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs an example as `node dist/examples/<name>.js` with MCP_URL (and TOKEN); its exit code and output. */
async function run(name: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [example(name)], {
    env: { PATH: process.env.PATH, MCP_URL: server.mcpUrl, ...env },
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
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code] = await once(child, "exit");
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}

describe("examples/, run against the real server", () => {
  it("bearer-token: the v2 SDK with a bearer token, as a 2025-era client and pinned to 2026-07-28", async () => {
    const { code, stdout, stderr } = await run("bearer-token", { TOKEN: token });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(
      [
        "2025-11-25: developer (workflows:read workflows:run) ran sumOfSquares: succeeded [14]",
        "2026-07-28: developer (workflows:read workflows:run) ran sumOfSquares: succeeded [14]",
        "",
      ].join("\n"),
    );
  });

  it("tasks-extension: the Tasks extension's client follows a run to its result", async () => {
    const { code, stdout, stderr } = await run("tasks-extension", { TOKEN: token });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(
      [
        "task started; its id is the run's: trn-…",
        "task completed: the run succeeded with [14]",
        "",
      ].join("\n"),
    );
  });

  it("oauth: the SDK's OAuth flow from the 401 alone, then a step-up for one task's scope", async () => {
    const { code, stdout, stderr } = await run("oauth");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(
      [
        "authorizing: workflows:read offline_access",
        "connected as developer",
        "authorizing: workflows:read workflows:run:square offline_access",
        "square succeeded: [49]",
        "the token now holds: workflows:read workflows:run:square",
        "",
      ].join("\n"),
    );
  });

  it("without a token, the bearer-token example says how to get one", async () => {
    const { code, stderr } = await run("bearer-token");
    expect(code).toBe(1);
    expect(stderr).toContain(
      "Error: set TOKEN to an access token (npm run -s token -- workflows:read)",
    );
  });
});
