import type { RunAction } from "./backend.js";

/**
 * What a backend tells a caller is in the backend's own words, but for one
 * thing no backend knows: what grants access to the runs others started (an
 * OAuth scope, to the layer facing clients). A backend marks where its text
 * needs that access; that layer names it (src/mcp/wording.ts).
 */

/** Access to every run for one action, whoever started them. */
interface AllRunsAccess {
  readonly allRunsFor: RunAction;
}

export const allRunsAccess = (action: RunAction): AllRunsAccess => ({ allRunsFor: action });

/** A backend's text: its words, and the access to every run where the text needs it. */
export type Message = readonly (string | AllRunsAccess)[];

/** Writes a Message as a template: message`… need ${allRunsAccess("read")}`. */
export function message(
  strings: TemplateStringsArray,
  ...values: readonly (string | number | AllRunsAccess)[]
): Message {
  const parts: (string | AllRunsAccess)[] = [];
  let text = "";
  strings.forEach((literal, i) => {
    const value = values[i];
    text += literal;
    if (typeof value !== "object") {
      text += value ?? "";
      return;
    }
    if (text) parts.push(text);
    parts.push(value);
    text = "";
  });
  if (text) parts.push(text);
  return parts;
}

/** The text with access named in a backend's terms: what logs and Error.message say. */
export const plainText = (text: Message): string =>
  text
    .map((part) => (typeof part === "string" ? part : `access to every run (${part.allRunsFor})`))
    .join("");
