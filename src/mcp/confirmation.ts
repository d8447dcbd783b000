import {
  CLIENT_CAPABILITIES_META_KEY,
  createRequestStateCodec,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type RequestStateCodec,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { Approval } from "../approvals/approval.js";
import type { Approvals } from "../approvals/service.js";
import { callerKey, callerOf } from "../auth/caller.js";
import type { TaskRun } from "../workflows/run.js";
import { accessFor } from "./access.js";
import type { RequestContext } from "./context.js";
import { isRecord } from "./messages.js";

/** What a start that asked its person to confirm carries to its retry (signed, bound to the caller). */
interface ConfirmationState {
  approval: string;
}

/** The key of the one input request: the approval page's URL. */
const CONFIRM = "confirm";

/** How long the client may take to come back (its state expires; the request itself lives on). */
const STATE_TTL_SECONDS = 24 * 60 * 60;

/**
 * URL-mode elicitation for `self`-mode approvals (MCP 2026-07-28, multi
 * round-trip requests): a start of such a task, by a client that declared
 * URL elicitation, answers `input_required` pointing its person to the
 * approval page; the client retries once they are done, echoing our sealed
 * state. The retry is answered from the server's own record of the request
 * — never the client's word that someone confirmed — and starts nothing:
 * the run started when the person confirmed on the page.
 */
export class Confirmation {
  readonly #codec: RequestStateCodec<ConfirmationState>;

  constructor(
    key: Uint8Array,
    private readonly approvals: Approvals,
  ) {
    this.#codec = createRequestStateCodec<ConfirmationState>({
      key,
      ttlSeconds: STATE_TTL_SECONDS,
      // State minted for one person is refused for any other (the SDK answers -32602).
      bind: (ctx) => callerKey(callerOf(ctx.http?.authInfo)),
    });
  }

  /** The hook the SDK runs on every echoed state before the handler (ServerOptions.requestState). */
  get verify() {
    return this.#codec.verify;
  }

  /** `input_required` for a pending self-mode request, when the client can open a URL; else undefined. */
  async ask(approval: Approval, ctx: ServerContext): Promise<InputRequiredResult | undefined> {
    if (approval.mode !== "self" || approval.status !== "pending" || !declaresUrlElicitation(ctx)) {
      return undefined;
    }
    return inputRequired({
      inputRequests: {
        [CONFIRM]: inputRequired.elicitUrl({
          message: `Confirm the run of ${approval.task} in your browser, signed in as yourself (${approval.requestedBy.subject}): it starts once you do. The request expires at ${approval.expiresAt}.`,
          url: approval.url,
        }),
      },
      requestState: await this.#codec.mint({ approval: approval.id }, ctx),
    });
  }

  /**
   * A retry carrying our state: the request as it is now, with its run if
   * the person confirmed. A person who declined in the client withdraws
   * the request (their word may always stop a run, never start one).
   */
  async resume(
    ctx: ServerContext,
    request: RequestContext,
  ): Promise<{ approval: Approval; run?: TaskRun } | undefined> {
    const state = ctx.mcpReq.requestState<ConfirmationState>();
    if (!isRecord(state) || typeof state.approval !== "string") return undefined;
    const answer = inputResponse(ctx.mcpReq.inputResponses, CONFIRM);
    if (answer.kind === "elicit" && answer.action !== "accept") {
      const { approval } = await this.approvals.withdraw(
        state.approval,
        request.traceId ? { ...request.caller, traceId: request.traceId } : request.caller,
        "start (declined in the client)",
      );
      if (!approval.runId) return { approval };
    }
    const approval = this.approvals.view(await this.approvals.get(state.approval, request.caller));
    if (!approval.runId) return { approval };
    const run = await request.backend.getRun(
      approval.runId,
      accessFor(request.caller, "read"),
      request.budget,
    );
    return { approval, run };
  }
}

/** Whether this request's client declared URL-mode elicitation (2026-07-28: capabilities travel with each request). */
export function declaresUrlElicitation(ctx: ServerContext): boolean {
  const capabilities = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[
    CLIENT_CAPABILITIES_META_KEY
  ];
  return (
    isRecord(capabilities) &&
    isRecord(capabilities.elicitation) &&
    isRecord(capabilities.elicitation.url)
  );
}
