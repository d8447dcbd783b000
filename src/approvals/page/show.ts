import type { Request, Response } from "express";
import { approveScopeFor } from "../../auth/policy.js";
import { holdsScope } from "../../auth/scopes.js";
import type { ApprovalRecord } from "../approval.js";
import { ApprovalNotFound } from "../errors.js";
import { isRequester } from "../service.js";
import { MAX_ID, type PageContext } from "./context.js";
import { csrfToken } from "./csrf.js";
import { messagePage } from "./html.js";
import { callerOfSession } from "./session.js";
import { approvalPage } from "./view.js";

/**
 * `GET /approvals/<id>`: signs the browser in if it is not; then the request
 * to its requester or someone who may decide it (with the form when they may
 * decide it now), a 403 naming the requester to anyone else for a `self`
 * request, and for everyone else the same 404 as an unknown id.
 */
export function showHandler(ctx: PageContext) {
  const { approvals } = ctx;
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (id.length > MAX_ID) {
      ctx.send(
        res,
        404,
        messagePage("No such request", "No approval request has an id this long."),
      );
      return;
    }
    try {
      const session = await ctx.cookiesOf(req).session(req);
      const outline = await approvals.outline(id);
      if (!session) {
        await ctx.startSignIn(req, res, id, outline);
        return;
      }
      const caller = callerOfSession(session);
      const needed = outline?.mode === "approver" ? approveScopeFor(outline.task) : undefined;
      if (
        outline &&
        needed &&
        !isRequester(outline, caller) &&
        !holdsScope(caller.scopes, needed) &&
        !session.asked.includes(needed)
      ) {
        // Signed in for another request: ask for this one's scope (once; the person may refuse it).
        await ctx.startSignIn(req, res, id, outline, session);
        return;
      }
      const switchUrl = `${ctx.pageUrl(req, id)}/sign-in`;
      const other = { href: switchUrl, text: "Sign in as someone else" };
      if (outline?.mode === "self" && !isRequester(outline, caller)) {
        ctx.send(
          res,
          403,
          messagePage(
            "Only the person who asked can confirm this run",
            `Approval request ${id} is confirmed by ${outline.requestedBy.subject} (at ${outline.requestedBy.issuer}), who asked for it, signed in as themselves. You are signed in as ${caller.subject}: nothing you do here can confirm or refuse it.`,
            other,
          ),
        );
        return;
      }
      let record: ApprovalRecord;
      try {
        record = await approvals.get(id, caller);
      } catch (error) {
        if (!(error instanceof ApprovalNotFound)) throw error;
        ctx.send(
          res,
          404,
          messagePage(
            "No such request",
            `No approval request ${id} among those you asked for or may decide, signed in as ${caller.subject}.`,
            other,
          ),
        );
        return;
      }
      const approval = approvals.view(record);
      const mayDecide =
        approval.status === "pending" &&
        (approval.mode === "self" || approvals.mayDecide(record, caller));
      const csrf = csrfToken(ctx.keys.csrf, session.sid, id);
      ctx.send(
        res,
        200,
        approvalPage({
          approval,
          input: record.input,
          person: { subject: caller.subject, issuer: caller.issuer },
          ...(mayDecide ? { form: { action: ctx.pageUrl(req, id), csrf } } : {}),
          switchUrl,
        }),
      );
    } catch (error) {
      ctx.unavailable(res, error, "show this request");
    }
  };
}

/** `GET /approvals/<id>/sign-in`: signs in again, as whoever the person says (the issuer is asked to prompt). */
export function switchHandler(ctx: PageContext) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id).slice(0, MAX_ID);
    try {
      await ctx.startSignIn(req, res, id, await ctx.approvals.outline(id), undefined, "login");
    } catch (error) {
      ctx.unavailable(res, error, "start a sign-in");
    }
  };
}
