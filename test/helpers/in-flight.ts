import { expect } from "vitest";
import { postMcp, rpcMessages, toolCall } from "./stack.js";

// Requests held open, to count what a caller has in flight
// (RATE_LIMIT_CONCURRENT_PER_CALLER).

type Auth = Record<string, string>;

/** Starts a run of the fixture task `sleep` that keeps running for the whole test; its id. */
export async function longRun(serverUrl: string, auth: Auth): Promise<string> {
  const res = await postMcp(
    serverUrl,
    toolCall("start_task_run", { task: "sleep", input: [600_000] }),
    auth,
  );
  const [message] = await rpcMessages(res);
  const result = message?.result as { structuredContent?: { run?: { id?: string } } } | undefined;
  const id = result?.structuredContent?.run?.id;
  expect(id).toMatch(/^trn-/);
  return id as string;
}

/**
 * Cancels the run (stopping the server would wait for it: SHUTDOWN_GRACE_SECONDS)
 * with `auth`, another caller's (workflows:cancel:all): the run's owner may
 * have no place left for one more request.
 */
export async function cancelRun(serverUrl: string, auth: Auth, runId: string): Promise<void> {
  const res = await postMcp(serverUrl, toolCall("cancel_task_run", { id: runId }), auth);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

/** A request held open: `get_task_run` waiting (up to 120 s) on a run that keeps running. */
export interface Held {
  /** Its answer; status 0 when the connection failed or it was aborted. */
  answer: Promise<{ status: number; headers?: Headers; body?: string }>;
  settled: boolean;
  abort(): void;
}

export function hold(serverUrl: string, auth: Auth, runId: string): Held {
  const controller = new AbortController();
  const held: Held = {
    settled: false,
    abort: () => controller.abort(),
    answer: postMcp(
      serverUrl,
      toolCall("get_task_run", { id: runId, wait_seconds: 120 }),
      auth,
      controller.signal,
    ).then(
      async (res) => ({
        status: res.status,
        headers: res.headers,
        body: await res.text().catch(() => ""),
      }),
      () => ({ status: 0 }),
    ),
  };
  void held.answer.then(() => {
    held.settled = true;
  });
  return held;
}

/**
 * `count` requests held at once by `auth`, sent together; resolves once one
 * of them has been answered (or after 5 s), which is the one the server
 * refused when `count` is one more than it lets a caller hold: which one
 * arrives last is not up to the test.
 */
export async function holdAtOnce(
  count: number,
  serverUrl: string,
  auth: Auth,
  runId: string,
): Promise<Held[]> {
  const held = Array.from({ length: count }, () => hold(serverUrl, auth, runId));
  await until(() => held.some((request) => request.settled), 5_000);
  return held;
}

/**
 * Calls whoami as `auth` until it is answered with `status` (at most 50
 * times, 50 ms apart): a whoami that is let in ends at once, so probing
 * holds nothing. The last answer, its body unread when it has that status.
 */
export async function whoamiUntil(serverUrl: string, auth: Auth, status: number) {
  let res = await postMcp(serverUrl, toolCall("whoami"), auth, AbortSignal.timeout(5_000));
  for (let tries = 1; tries < 50 && res.status !== status; tries++) {
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
    res = await postMcp(serverUrl, toolCall("whoami"), auth, AbortSignal.timeout(5_000));
  }
  return res;
}

/** Waits until `condition` holds or `timeoutMs` has passed. */
export async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
