import {
  ANY_APPROVAL_SCOPE,
  ANY_TASK_SCOPE,
  holdsScope,
  isKnownScope,
  scopesAllowing,
  sortScopes,
  taskScope,
} from "./scopes.js";

/**
 * What a call needs: every listed scope, each satisfied by the scope itself
 * or any scope implying it. Empty: any valid token.
 */
export type Requirement = readonly string[];

export type Decision =
  | { allowed: true }
  | {
      allowed: false;
      /** The narrowest scopes the token lacks, in canonical order. */
      missing: string[];
      /** For each missing scope, every scope that would allow it, narrowest first. */
      allowedBy: Record<string, string[]>;
      /**
       * The `scope=` of the 403 challenge: what is missing plus what the token
       * already holds (of this server's scopes), so stepping up asks for least
       * privilege and loses nothing.
       */
      challenge: string[];
    };

/** Evaluates a requirement against the scopes a token holds. */
export function authorize(requirement: Requirement, held: readonly string[]): Decision {
  const missing = sortScopes(requirement.filter((scope) => !holdsScope(held, scope)));
  if (missing.length === 0) return { allowed: true };
  const allowedBy = Object.fromEntries(missing.map((scope) => [scope, scopesAllowing(scope)]));
  return {
    allowed: false,
    missing,
    allowedBy,
    challenge: sortScopes([...missing, ...held.filter(isKnownScope)]),
  };
}

/**
 * The narrowest scope that allows starting runs of the task a reference
 * names: its per-task scope, or `workflows:run` when the reference names no
 * task that can form a scope (a malformed reference, or a name outside the
 * scope-token grammar).
 */
export function runScopeFor(taskName: string | undefined): string {
  return (taskName !== undefined && taskScope(taskName)) || ANY_TASK_SCOPE;
}

/** The narrowest scope that decides approval requests for runs of `taskName` (`workflows:approve` when it forms none). */
export function approveScopeFor(taskName: string | undefined): string {
  return (taskName !== undefined && taskScope(taskName, "approve")) || ANY_APPROVAL_SCOPE;
}
