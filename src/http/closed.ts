import type { Response } from "express";

/**
 * Settles when the HTTP exchange is over: answered, or the client went away
 * (at once if it already has). Never rejects: `events.once` would reject on
 * an 'error' event, and a handler waiting on it would leave a rejection
 * nobody handles.
 */
export function whenClosed(res: Response): Promise<void> {
  if (res.closed) return Promise.resolve();
  return new Promise((resolve) => res.once("close", () => resolve()));
}
