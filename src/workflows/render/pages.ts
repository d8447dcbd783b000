import type { z } from "zod";
import type { Query, RenderHttp } from "./http.js";

export interface Page<T> {
  items: T[];
  /** False on the last page. */
  more: boolean;
}

/**
 * Walks one of Render's cursor-paged lists (bare arrays of `{<resource>,
 * cursor}`; the last item's cursor fetches the next page), at most
 * `maxPages` requests.
 */
export async function* pages<T extends { cursor: string }>(
  http: RenderHttp,
  path: string,
  options: {
    query: Query;
    schema: z.ZodType<T[]>;
    limit: number;
    maxPages: number;
    after?: string;
    notFound?: (message: string) => Error;
  },
): AsyncGenerator<Page<T>> {
  let cursor = options.after;
  for (let n = 0; n < options.maxPages; n++) {
    const page = await http.request("GET", path, {
      query: { ...options.query, limit: options.limit, cursor },
      schema: options.schema,
      notFound: options.notFound,
    });
    // A server that ignores `cursor` and `limit` (the CLI's dev server) sends
    // everything each time: skip what came up to the cursor, and stop there.
    const start = cursor === undefined ? 0 : page.findIndex((item) => item.cursor === cursor) + 1;
    const items = page.slice(start);
    const more = page.length === options.limit && items.length > 0;
    yield { items, more };
    const last = items.at(-1);
    if (!more || !last) return;
    cursor = last.cursor;
  }
}
