import { ALL_RUNS_SCOPE } from "../auth/scopes.js";
import type { Message } from "../workflows/message.js";

/**
 * A backend's text as clients read it: where it needs access to every run,
 * the scope that grants that access (backends know nothing of scopes).
 */
export const worded = (text: Message): string =>
  text.map((part) => (typeof part === "string" ? part : ALL_RUNS_SCOPE[part.allRunsFor])).join("");
