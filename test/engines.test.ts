import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

/*
 * `npm ci` on every supported Node.js is free of EBADENGINE warnings: no
 * package the lockfile installs asks for a Node.js the project supports not.
 * (npm warns per package whose `engines.node` the running Node does not
 * satisfy; checked here for the oldest supported release, and for Node 22.)
 */

const root = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
  packages: Record<
    string,
    { version?: string; engines?: { node?: string } | string[]; os?: string[]; cpu?: string[] }
  >;
};

const oldest = semver.minVersion(pkg.engines.node)?.version as string;

/** npm skips a package built for another platform (os, cpu) without looking at its engines. */
const installedOn = (entry: { os?: string[]; cpu?: string[] }, os: string, cpu: string) =>
  (entry.os === undefined || entry.os.includes(os)) &&
  (entry.cpu === undefined || entry.cpu.includes(cpu));

describe("the lockfile installs on every supported Node.js without EBADENGINE", () => {
  it.each([oldest, process.versions.node])(
    "Node.js %s satisfies every package's engines.node (Linux x64, as CI and Render)",
    (node) => {
      const unsupported = Object.entries(lock.packages)
        .filter(([path, entry]) => path !== "" && installedOn(entry, "linux", "x64"))
        .flatMap(([path, entry]) => {
          const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
          return range && !semver.satisfies(node, range, { includePrerelease: true })
            ? [`${path.replace(/^.*node_modules\//, "")}@${entry.version} wants node ${range}`]
            : [];
        });
      expect(unsupported).toEqual([]);
    },
  );

  it("the oldest supported Node.js is 20.19", () => {
    expect(oldest).toBe("20.19.0");
  });
});
