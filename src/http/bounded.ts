/**
 * Bounds for what is taken from a request into logs and messages: a 4 MB
 * JSON-RPC method name must not become a 4 MB log line.
 */

const MAX_TEXT = 128;
const MAX_ITEMS = 10;

/** The text cut to `max` characters, with an ellipsis when cut. */
export function boundedText(text: string, max = MAX_TEXT): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Names for a log field: undefined when none, the name alone when one, else
 * the first ten (each bounded) and how many more there were.
 */
export function boundedList(items: readonly string[]): string | string[] | undefined {
  if (items.length === 0) return undefined;
  if (items.length === 1) return boundedText(items[0] as string);
  const listed = items.slice(0, MAX_ITEMS).map((item) => boundedText(item));
  return items.length > MAX_ITEMS ? [...listed, `… ${items.length - MAX_ITEMS} more`] : listed;
}
