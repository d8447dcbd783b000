import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { runNodeCli, type ScenarioResult, scenarioChecks } from "./cli.js";

/**
 * The conformance suite's 0.2 line (`conformance-2026`, an npm alias of
 * @modelcontextprotocol/conformance@0.2.0-alpha.12), which knows revision
 * 2026-07-28. Its CLI needs Node 22 (it calls fs.globSync at startup), so it
 * runs with a Node >= 22 binary: this process's own when it is one.
 */
const packageJsonPath = createRequire(import.meta.url).resolve("conformance-2026/package.json");
const packageJson = JSON.parse(readFileSync(packageJsonPath, "utf8")) as {
  version: string;
  bin: { conformance: string };
};
export const CLI_2026 = join(dirname(packageJsonPath), packageJson.bin.conformance);
export const SUITE_2026_VERSION = packageJson.version;

/** The Node major this process runs on. */
export const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

/**
 * A Node that can run the 0.2 CLI: this one when it is 22 or later (CI's
 * Node 22 pass), else the one CONFORMANCE_NODE names (for running the file
 * on Node 20 by hand), else none.
 */
export const NODE_FOR_2026: string | undefined =
  NODE_MAJOR >= 22 ? process.execPath : process.env.CONFORMANCE_NODE || undefined;

function node(): string {
  if (NODE_FOR_2026 === undefined) {
    throw new Error(
      `conformance ${SUITE_2026_VERSION} needs Node 22 (fs.globSync); this is Node ${process.versions.node}`,
    );
  }
  return NODE_FOR_2026;
}

/** Runs the 0.2 CLI to the end (killed after `timeoutMs`) and returns its exit code and output. */
export const runCli2026 = (args: string[], timeoutMs = 60_000) =>
  runNodeCli(node(), CLI_2026, args, timeoutMs);

/** One server scenario as `conformance list --server` prints it: its name and spec tags. */
export interface ListedScenario {
  name: string;
  /** The revisions it applies to (e.g. ["2025-11-25", "2026-07-28"]), or ["extension"]. */
  tags: string[];
}

/** Every server scenario the 0.2 suite knows, with the revisions (or "extension") each applies to. */
export async function listServerScenarios2026(): Promise<ListedScenario[]> {
  const { code, output } = await runCli2026(["list", "--server"]);
  if (code !== 0) throw new Error(`conformance list failed (${code}):\n${output}`);
  return output
    .split("\n")
    .filter((line) => line.startsWith("  - "))
    .map((line) => {
      const match = /^ {2}- (\S+)(?: \[([^\]]*)\])?$/.exec(line);
      if (!match?.[1]) throw new Error(`unexpected line in conformance list: ${line}`);
      return { name: match[1], tags: match[2] ? match[2].split(",") : [] };
    });
}

/**
 * Runs one server scenario against `mcpUrl` at a protocol revision, reading
 * its checks from the results it saves. `--force` runs an extension scenario
 * (off the spec timeline) at that revision's wire, which is what an extension
 * of 2026-07-28 needs.
 */
export function runServerScenario2026(
  mcpUrl: string,
  scenario: string,
  revision: string,
  options: { force?: boolean; timeoutMs?: number } = {},
): Promise<ScenarioResult> {
  return scenarioChecks(
    (args) => runCli2026(args, options.timeoutMs),
    [
      "server",
      "--url",
      mcpUrl,
      "--scenario",
      scenario,
      "--spec-version",
      revision,
      ...(options.force ? ["--force"] : []),
    ],
  );
}
