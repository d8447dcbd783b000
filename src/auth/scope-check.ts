import type { Scope } from "./scopes.js";

/** The required scopes a token lacks, in declaration order. */
export const missingScopes = (required: readonly Scope[], granted: readonly string[]): Scope[] =>
  required.filter((scope) => !granted.includes(scope));
