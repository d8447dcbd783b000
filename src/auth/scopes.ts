/** Every scope this server knows, declared once, each with its one-line meaning. */
export const SCOPES = {
  "workflows:read": "Inspect tasks, task runs and their logs",
  "workflows:run": "Start task runs",
  "workflows:cancel": "Cancel task runs",
} as const;

export type Scope = keyof typeof SCOPES;

export const ALL_SCOPES = Object.keys(SCOPES) as Scope[];
