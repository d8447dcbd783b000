import type { RunAction } from "../workflows/backend.js";

/**
 * The scope model, declared once. Every scope this server knows is here with
 * what it grants, what it implies and whether clients ask for it by default;
 * the gate, the tools, whoami, the challenges, Protected Resource Metadata,
 * the banner, the consent page and the README table all derive from it.
 */

interface ScopeDeclaration {
  /** What holding the scope allows, in one line a person can consent to. */
  grants: string;
  /** Scopes this one includes (transitively); each must be declared here too. */
  implies: readonly string[];
  /** Also includes every per-task scope of this family (`workflows:run:<task>`, …). */
  impliesFamily?: TaskScopeFamily;
  /** Named in the first 401 challenge: the minimal default a client asks for. */
  requestedByDefault?: true;
  /**
   * Why holding it reaches more than the caller's own work, for a person
   * deciding on a consent page: a broad scope is never granted by default
   * there, even when a client asks for it.
   */
  broad?: string;
}

export const SCOPES = {
  "workflows:read": {
    grants: "See the task catalogue, and the runs you started with their results and logs",
    implies: [],
    requestedByDefault: true,
  },
  "workflows:read:all": {
    grants:
      "See every run, whoever or whatever started it (runs started outside this server included)",
    implies: ["workflows:read"],
    broad: "it shows other people's runs, with their inputs, results and logs",
  },
  "workflows:run": {
    grants: "Start a run of any task",
    implies: [],
    impliesFamily: "run",
    broad:
      "it starts every task, tasks added later included; a task's own scope starts that task only",
  },
  "workflows:cancel": {
    grants: "Cancel runs you started",
    implies: [],
  },
  "workflows:cancel:all": {
    grants: "Cancel any run",
    implies: ["workflows:cancel"],
    broad: "it stops other people's runs",
  },
  "workflows:approve": {
    grants:
      "Decide approval requests for runs of any task (approve or deny; never your own, where an approver decides)",
    implies: [],
    impliesFamily: "approve",
    broad:
      "it decides for every task, and an approved run starts for the person who asked; a task's own scope decides for that task only",
  },
  "workflows:admin": {
    grants:
      "Everything above, and the audit trail of who started, cancelled, asked for or decided what",
    implies: ["workflows:read:all", "workflows:run", "workflows:cancel:all", "workflows:approve"],
    broad: "it includes every other scope, and shows who did what",
  },
} as const satisfies Record<string, ScopeDeclaration>;

export type FixedScope = keyof typeof SCOPES;

/**
 * The families of per-task scopes: `workflows:run:square` starts runs of
 * `square` and nothing else; `workflows:approve:deploy` decides approval
 * requests for runs of `deploy` and nothing else. Each is implied by the
 * fixed scope declaring `impliesFamily`.
 */
const FAMILIES = {
  run: { prefix: "workflows:run:", grants: (task: string) => `Start runs of the task ${task}` },
  approve: {
    prefix: "workflows:approve:",
    grants: (task: string) => `Decide approval requests for runs of the task ${task}`,
  },
} as const;
export type TaskScopeFamily = keyof typeof FAMILIES;

/** The per-task family of starting runs. */
export const TASK_SCOPE_PREFIX = FAMILIES.run.prefix;
/** The per-task family of deciding approval requests. */
export const APPROVE_SCOPE_PREFIX = FAMILIES.approve.prefix;

/** Every fixed scope, in declaration order. */
export const FIXED_SCOPES = Object.keys(SCOPES) as FixedScope[];

/** What a client asks for before it knows better (scope minimization). */
export const DEFAULT_SCOPES = FIXED_SCOPES.filter(
  (scope) => (SCOPES[scope] as ScopeDeclaration).requestedByDefault,
);

/** Longest scope this server gives meaning to: a hostile task name cannot make a header or token unbounded. */
const MAX_SCOPE_LENGTH = 200;
/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** An RFC 6749 scope-token of at most 200 characters: the only scopes a token's claims or a task name yield. */
export const isScopeToken = (value: string): boolean =>
  value.length <= MAX_SCOPE_LENGTH && SCOPE_TOKEN.test(value);

const declaration = (scope: string): ScopeDeclaration | undefined =>
  Object.hasOwn(SCOPES, scope) ? (SCOPES as Record<string, ScopeDeclaration>)[scope] : undefined;

/**
 * The scope of `family` for `task` (by default, starting runs of it), or
 * undefined when the name cannot form a valid scope token (a space, a quote,
 * a backslash, a non-ASCII character, or longer than 200 characters): such
 * tasks are reached only by the family's fixed scope (`workflows:run`,
 * `workflows:approve`, or `workflows:admin`).
 */
export function taskScope(task: string, family: TaskScopeFamily = "run"): string | undefined {
  const scope = `${FAMILIES[family].prefix}${task}`;
  return task.length > 0 && isScopeToken(scope) ? scope : undefined;
}

/** The family and task a per-task scope names, or undefined for any other scope. */
function familyOf(scope: string): { family: TaskScopeFamily; task: string } | undefined {
  if (declaration(scope)) return undefined;
  for (const family of Object.keys(FAMILIES) as TaskScopeFamily[]) {
    const { prefix } = FAMILIES[family];
    if (!scope.startsWith(prefix)) continue;
    const task = scope.slice(prefix.length);
    return taskScope(task, family) === scope ? { family, task } : undefined;
  }
  return undefined;
}

/** The task a per-task scope names (of `family`, by default starting runs), or undefined for any other scope. */
export function taskOfScope(scope: string, family: TaskScopeFamily = "run"): string | undefined {
  const named = familyOf(scope);
  return named?.family === family ? named.task : undefined;
}

/** True for a scope this server gives meaning to: a fixed scope or a per-task scope. */
export const isKnownScope = (scope: string): boolean =>
  declaration(scope) !== undefined || familyOf(scope) !== undefined;

/**
 * Why a scope is broad, or undefined for a narrow one (a per-task scope, your
 * own runs): declared with the scope, so a new scope is broad by saying so.
 */
export const whyBroad = (scope: string): string | undefined => declaration(scope)?.broad;

/** What a scope grants, for consent pages and tables; undefined for a scope this server does not know. */
export function meaningOf(scope: string): string | undefined {
  const fixed = declaration(scope);
  if (fixed) return fixed.grants;
  const named = familyOf(scope);
  return named && FAMILIES[named.family].grants(named.task);
}

/** The fixed scopes `scope` includes, itself first (transitive closure of `implies`). */
function closure(scope: FixedScope): FixedScope[] {
  const seen: FixedScope[] = [scope];
  for (let i = 0; i < seen.length; i++) {
    for (const implied of (SCOPES[seen[i] as FixedScope] as ScopeDeclaration).implies) {
      if (!seen.includes(implied as FixedScope)) seen.push(implied as FixedScope);
    }
  }
  return seen;
}

/**
 * True when holding `held` allows `needed`: the scope itself, or a fixed
 * scope that implies it. Matching is exact: `workflows:run:sq` grants nothing
 * for `square`, and no scope is matched by prefix.
 */
export function holdsScope(held: readonly string[], needed: string): boolean {
  if (held.includes(needed)) return true;
  const family = familyOf(needed)?.family;
  for (const scope of held) {
    if (!declaration(scope)) continue;
    for (const implied of closure(scope as FixedScope)) {
      if (implied === needed) return true;
      if (family !== undefined && declaration(implied)?.impliesFamily === family) return true;
    }
  }
  return false;
}

/**
 * Every scope that would allow `needed`, narrowest first: the scope itself,
 * then the scopes implying it, closest first. For `workflows:run:square`:
 * `workflows:run:square`, `workflows:run`, `workflows:admin`.
 */
export function scopesAllowing(needed: string): string[] {
  const allowing = [needed];
  const depth = (scope: FixedScope) => closure(scope).length;
  const wider = FIXED_SCOPES.filter((scope) => scope !== needed && holdsScope([scope], needed));
  // A scope implying fewer others is narrower.
  wider.sort((a, b) => depth(a) - depth(b));
  allowing.push(...wider);
  return allowing;
}

/** Canonical order for scope lists in challenges: fixed scopes as declared, then task scopes by name. */
export function sortScopes(scopes: Iterable<string>): string[] {
  const unique = [...new Set(scopes)];
  const rank = (scope: string) => {
    const index = FIXED_SCOPES.indexOf(scope as FixedScope);
    return index >= 0 ? index : FIXED_SCOPES.length;
  };
  return unique.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * `scopes_supported` in Protected Resource Metadata: every fixed scope, the
 * per-task scopes of these tasks, and the approval scopes of those that need
 * a person's approval.
 */
export function supportedScopes(
  taskNames: Iterable<string>,
  approvalTasks: Iterable<string> = [],
): string[] {
  const perTask = [
    ...[...taskNames].map((task) => taskScope(task)),
    ...[...approvalTasks].map((task) => taskScope(task, "approve")),
  ].filter((s): s is string => s !== undefined);
  return sortScopes([...FIXED_SCOPES, ...perTask]);
}

/** Which runs a caller sees for an action: every run (an `:all` scope) or only the runs it started. */
export type Visibility = "all" | "own";

/** The scope that reaches runs started by others, per action. */
export const ALL_RUNS_SCOPE = {
  read: "workflows:read:all",
  cancel: "workflows:cancel:all",
} as const satisfies Record<RunAction, FixedScope>;

/** The scope that allows starting any task (it implies every per-task scope). */
export const ANY_TASK_SCOPE = FIXED_SCOPES.find(
  (scope) => (SCOPES[scope] as ScopeDeclaration).impliesFamily === "run",
) as FixedScope;

/** The scope that decides approval requests for any task. */
export const ANY_APPROVAL_SCOPE = FIXED_SCOPES.find(
  (scope) => (SCOPES[scope] as ScopeDeclaration).impliesFamily === "approve",
) as FixedScope;

export function visibility(held: readonly string[], action: RunAction): Visibility {
  return holdsScope(held, ALL_RUNS_SCOPE[action]) ? "all" : "own";
}
