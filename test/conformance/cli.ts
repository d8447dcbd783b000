import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** One check of a scenario, as the suite writes it to checks.json. */
export interface Check {
  id: string;
  name: string;
  description: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  details?: unknown;
}

export interface ScenarioResult {
  /** The CLI's exit code: 0 when no check failed. */
  code: number | null;
  checks: Check[];
  /** What the CLI printed, for failure messages. */
  output: string;
}

/** The installed suite's CLI, run with this Node: never an npx download. */
const packageJsonPath = createRequire(import.meta.url).resolve(
  "@modelcontextprotocol/conformance/package.json",
);
const packageJson = JSON.parse(readFileSync(packageJsonPath, "utf8")) as {
  version: string;
  bin: { conformance: string };
};
export const CLI = join(dirname(packageJsonPath), packageJson.bin.conformance);
export const SUITE_VERSION = packageJson.version;

/** Runs a conformance CLI with `node` to the end (killed after `timeoutMs`) and returns its exit code and output. */
export async function runNodeCli(node: string, cli: string, args: string[], timeoutMs: number) {
  const child = spawn(node, [cli, ...args], {
    env: { PATH: process.env.PATH },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (d: string) => {
    output += d;
  };
  child.stdout.setEncoding("utf8").on("data", append);
  child.stderr.setEncoding("utf8").on("data", append);
  const timer = setTimeout(() => {
    output += `\n[killed after ${timeoutMs} ms]`;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [code] = (await once(child, "exit")) as [number | null];
    return { code, output };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the installed suite's CLI to the end (killed after `timeoutMs`). */
export const runCli = (args: string[], timeoutMs = 45_000) =>
  runNodeCli(process.execPath, CLI, args, timeoutMs);

/**
 * Runs a server scenario with `run` (either suite's CLI) and `args`, reading
 * its checks from the results the CLI saves in a fresh output directory.
 */
export async function scenarioChecks(
  run: (args: string[]) => Promise<{ code: number | null; output: string }>,
  args: string[],
): Promise<ScenarioResult> {
  const outputDir = mkdtempSync(join(tmpdir(), "workflows-mcp-conformance-"));
  try {
    const { code, output } = await run([...args, "--output-dir", outputDir]);
    // The CLI saves <outputDir>/server-<scenario>-<timestamp>/checks.json.
    const [resultDir] = readdirSync(outputDir);
    if (resultDir === undefined) throw new Error(`no results saved (exit ${code}):\n${output}`);
    const checks = JSON.parse(
      readFileSync(join(outputDir, resultDir, "checks.json"), "utf8"),
    ) as Check[];
    return { code, checks, output };
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}

/** The server scenarios the installed suite knows (`conformance list --server`). */
export async function listServerScenarios(): Promise<string[]> {
  const { code, output } = await runCli(["list", "--server"]);
  if (code !== 0) throw new Error(`conformance list failed (${code}):\n${output}`);
  return output
    .split("\n")
    .filter((line) => line.startsWith("  - "))
    .map((line) => line.slice("  - ".length).trim());
}

/** Runs one server scenario against `mcpUrl`. */
export const runServerScenario = (mcpUrl: string, scenario: string) =>
  scenarioChecks(runCli, ["server", "--url", mcpUrl, "--scenario", scenario]);
