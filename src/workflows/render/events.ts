import { createParser, type ParseError } from "eventsource-parser";
import { BackendUnavailable } from "../errors.js";
import type { RenderHttp } from "./http.js";
import { type RenderRunStatus, RunEvent } from "./schemas.js";

/** A frame larger than this ends the stream: a peer does not decide how much memory is used. */
const MAX_FRAME_CHARS = 16 * 1024 * 1024;

export interface RunEventHandlers {
  /** The stream is established (events from here on will be seen). */
  onOpen(): void;
  /** An event for the run. Its name is not trusted: Render labels every terminal event `task.completed`. */
  onEvent(status: RenderRunStatus): void;
}

/**
 * Follows GET /task-runs/events for one run until the stream ends (resolves)
 * or fails (rejects); abort `signal` to stop it.
 */
export async function followRunEvents(
  http: RenderHttp,
  runId: string,
  signal: AbortSignal,
  handlers: RunEventHandlers,
): Promise<void> {
  const response = await http.stream("/task-runs/events", { taskRunIds: [runId] }, signal);
  handlers.onOpen();
  let failure: ParseError | undefined;
  const parser = createParser({
    maxBufferSize: MAX_FRAME_CHARS,
    onError: (error) => {
      failure = error;
    },
    onEvent: (message) => {
      // Named `task.*`; an unnamed frame is taken too when its data is this run.
      if (message.event !== undefined && !message.event.startsWith("task.")) return;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      const event = RunEvent.safeParse(data);
      if (event.success && event.data.id === runId) handlers.onEvent(event.data.status);
    },
  });
  const body = response.body;
  if (!body) return;
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    parser.feed(chunk);
    // Leaving the loop cancels the stream.
    if (failure?.type === "max-buffer-size-exceeded") {
      throw new BackendUnavailable("Render's event stream sent an oversized frame");
    }
  }
}
