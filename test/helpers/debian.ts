import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether this process may install Debian's packages: root, with apt. */
export const canInstallDebianPackages = () =>
  process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");

/**
 * Installs Debian packages for the tests that use real servers or a browser
 * (redis-server, postgresql, chromium). Two test workers may install at once
 * on a fresh machine, and dpkg refuses a second install while one holds its
 * lock: every install here runs under one flock of our own, and apt also
 * waits for dpkg's lock should something else hold it. Throws when apt fails.
 */
export function installDebianPackages(packages: string[], options: { recommends?: boolean } = {}) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lock = join(tmpdir(), "workflows-mcp-apt.lock");
  const serialized = (program: string, args: string[]): [string, string[]] =>
    existsSync("/usr/bin/flock") ? ["/usr/bin/flock", [lock, program, ...args]] : [program, args];
  const apt = (args: string[], timeout: number) => {
    const [program, argv] = serialized("apt-get", ["-o", "DPkg::Lock::Timeout=600", ...args]);
    execFileSync(program, argv, { stdio: "ignore", env, timeout });
  };
  apt(["update", "-qq"], 900_000);
  apt(
    [
      "install",
      "-y",
      "-qq",
      ...(options.recommends ? [] : ["--no-install-recommends"]),
      ...packages,
    ],
    1_200_000,
  );
}
