/**
 * A module that a worker thread loads, or that imports the built task
 * definitions, must be JavaScript. Built, it sits beside the importing file;
 * run from source (vitest runs .ts directly), its build under dist/ is used,
 * so tests need `npm run build` first.
 */
export function builtModule(relative: string, from: string): URL {
  const url = new URL(relative, from);
  if (!from.endsWith(".ts")) return url;
  const at = url.href.lastIndexOf("/src/");
  if (at < 0) return url;
  return new URL(`${url.href.slice(0, at)}/dist${url.href.slice(at)}`);
}
