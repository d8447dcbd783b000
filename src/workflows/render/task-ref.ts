/** `task-name` or `workflow-slug/task-name`, optionally `:version`. */
const TASK_REF = /^(?:(?<workflow>[^/\s:]+)\/)?(?<name>[^/\s:]+)(?::(?<version>[A-Za-z0-9._-]+))?$/;

export interface TaskRef {
  /** The workflow the reference names, when it names one. */
  workflow?: string;
  name: string;
  version?: string;
}

/** A task reference taken apart, without I/O; undefined when it is not one. */
export function parseTaskRef(reference: string): TaskRef | undefined {
  const match = TASK_REF.exec(reference)?.groups;
  if (!match?.name) return undefined;
  return { workflow: match.workflow, name: match.name, version: match.version };
}

/**
 * The task name a reference names within workflow `slug`: `square`,
 * `slug/square` and `slug/square:3` all name `square`; a reference to another
 * workflow, or one that is not a reference, names none.
 */
export function taskNameIn(slug: string, reference: string): string | undefined {
  const ref = parseTaskRef(reference);
  if (!ref || (ref.workflow !== undefined && ref.workflow !== slug)) return undefined;
  return ref.name;
}
