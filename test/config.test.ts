import { describe, expect, it } from "vitest";
import { runServerExpectingExit } from "./helpers/server.js";

describe("configuration errors stop the server with one line per problem", () => {
  it.each([
    [{ PORT: "http" }, "  PORT: must be a number"],
    [{ PORT: "70000" }, "  PORT: must be between 0 and 65535"],
    [{ AUTH_ISSUER: "not a url" }, "  AUTH_ISSUER: must be an absolute http(s) URL"],
    [{ PUBLIC_URL: "ftp://x" }, "  PUBLIC_URL: must be an absolute http(s) URL"],
    [
      { AUTH_ISSUER: "https://issuer.test", AUTH_ALGORITHMS: "RS256,HS256" },
      "  AUTH_ALGORITHMS.1: only asymmetric algorithms are allowed",
    ],
    [{ WORKFLOWS_BACKEND: "airflow" }, "  WORKFLOWS_BACKEND: must be `local` or `render`"],
    [
      { LOG_LEVEL: "loud" },
      "  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent",
    ],
    [
      { NODE_ENV: "production" },
      "  AUTH_ISSUER: required when NODE_ENV=production (the development authorization server never runs in production)",
    ],
    [
      { AUTH_JWKS_URL: "https://issuer.test/jwks" },
      "  AUTH_JWKS_URL: set only together with AUTH_ISSUER",
    ],
  ])("%o", async (env, line) => {
    const { code, stdout, stderr } = await runServerExpectingExit(env);
    expect(code).toBe(1);
    expect(stderr.startsWith("workflows-mcp cannot start:\n")).toBe(true);
    expect(stderr.split("\n").some((l) => l.startsWith(line))).toBe(true);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe("");
  });

  it("lists every problem at once", async () => {
    const { code, stderr } = await runServerExpectingExit({
      PORT: "-1",
      WORKFLOWS_BACKEND: "x",
      LOG_LEVEL: "y",
    });
    expect(code).toBe(1);
    expect(stderr.trimEnd().split("\n")).toHaveLength(4);
  });
});
