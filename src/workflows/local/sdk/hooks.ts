/**
 * A Node module resolution hook (module.register), loaded off-thread by Node:
 * resolves `@renderinc/sdk/workflows` to the embedded engine's implementation
 * of its task API, wherever the importing file lives and whether or not the
 * real SDK is installed beside it. Every other specifier resolves as usual.
 */
export const SDK_SPECIFIER = "@renderinc/sdk/workflows";

let implementation: string | undefined;

export function initialize(data: { implementation: string }): void {
  implementation = data.implementation;
}

type NextResolve = (specifier: string, context: unknown) => unknown;

export function resolve(specifier: string, context: unknown, nextResolve: NextResolve): unknown {
  if (specifier === SDK_SPECIFIER && implementation !== undefined) {
    return { url: implementation, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
