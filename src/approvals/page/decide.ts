import type { Request, Response } from "express";
import { AlreadyDecided, ApprovalNotFound, DecisionNotAllowed } from "../errors.js";
import { MAX_ID, type PageContext } from "./context.js";
import { csrfValid, sameOrigin } from "./csrf.js";
import { messagePage } from "./html.js";
import { callerOfSession } from "./session.js";
import { MAX_REASON } from "./view.js";

/**
 * `POST /approvals/<id>`: a decision from the page's own form — the signed-in
 * person's session, a same-origin browser, and the form's CSRF token for this
 * sign-in and request — decided by the approval service (`channel: page`),
 * then back to the page, which shows the outcome. Every refusal is a page
 * with its status, saying nothing was decided.
 */
export function decideHandler(ctx: PageContext) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id).slice(0, MAX_ID);
    const open = { href: ctx.pageUrl(req, id), text: "Open the request" };
    const refuse = (status: number, title: string, message: string) =>
      ctx.send(
        res,
        status,
        messagePage(
          title,
          `${message}${/[.!?]$/.test(message) ? "" : "."} Nothing was decided.`,
          open,
        ),
      );
    const session = await ctx.cookiesOf(req).session(req);
    if (!session) {
      refuse(403, "Not signed in", "Your sign-in has expired, or this browser is not signed in.");
      return;
    }
    if (!sameOrigin(req.headers, new URL(ctx.baseOf(req)).origin)) {
      refuse(403, "Refused", "This form was sent from another site.");
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!csrfValid(ctx.keys.csrf, session.sid, id, body.csrf)) {
      refuse(
        403,
        "Refused",
        "This form does not belong to your current sign-in (it may be from before you signed in again).",
      );
      return;
    }
    const decision = body.decision;
    const reason = typeof body.reason === "string" ? body.reason.trim() : "";
    if ((decision !== "approve" && decision !== "deny") || reason.length > MAX_REASON) {
      refuse(
        400,
        "Not understood",
        `A decision is approve or deny, with a reason of at most ${MAX_REASON} characters.`,
      );
      return;
    }
    try {
      await ctx.approvals.decide(id, callerOfSession(session), decision, {
        ...(reason ? { reason } : {}),
        channel: "page",
      });
    } catch (error) {
      if (error instanceof DecisionNotAllowed) refuse(403, "Not yours to decide", error.message);
      else if (error instanceof AlreadyDecided) refuse(409, "Already decided", error.message);
      else if (error instanceof ApprovalNotFound) refuse(404, "No such request", error.message);
      else ctx.unavailable(res, error, "record your decision");
      return;
    }
    res.redirect(303, ctx.pageUrl(req, id));
  };
}
