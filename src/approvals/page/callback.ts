import type { Request, Response } from "express";
import { callerOf } from "../../auth/caller.js";
import { KeysUnavailable, TokenRejected } from "../../auth/errors.js";
import { checkLoopbackAudience } from "../../auth/loopback-resource.js";
import { MAX_ID, type PageContext } from "./context.js";
import { messagePage } from "./html.js";
import { newSession } from "./session.js";
import { SignInFailed } from "./sign-in.js";

/**
 * `GET /approvals/callback`: checks the authorization response against this
 * browser's sign-in (state, issuer), exchanges the code, verifies the token
 * with the server's own verifier, and keeps who it names (never the token)
 * in the session cookie; then back to the request, with no code or state in
 * the URL. The request log records the path only, never the query.
 */
export function callbackHandler(ctx: PageContext) {
  return async (req: Request, res: Response) => {
    const cookies = ctx.cookiesOf(req);
    const state = await cookies.signIn(req);
    cookies.clearSignIn(res);
    if (!state) {
      ctx.send(
        res,
        400,
        messagePage(
          "Sign-in expired",
          "This browser has no sign-in under way here: it took longer than 10 minutes, was started in another browser, or the page's cookies are blocked (over plain http they are kept only on localhost). Open the approval link again.",
        ),
      );
      return;
    }
    const again = {
      href: ctx.pageUrl(req, state.approval),
      text: "Open the request and sign in again",
    };
    let token: string;
    try {
      token = await ctx.signIn.finish(new URL(req.originalUrl, ctx.baseOf(req)), state);
    } catch (error) {
      if (error instanceof SignInFailed) {
        ctx.send(
          res,
          403,
          messagePage("Not signed in", `You are not signed in: ${error.message}.`, again),
        );
        return;
      }
      ctx.unavailable(res, error, "complete the sign-in");
      return;
    }
    try {
      const auth = await ctx.verifier.verifyAccessToken(token);
      checkLoopbackAudience(req, auth);
      const session = newSession(callerOf(auth), state.asked);
      if (session.tex <= Math.floor(Date.now() / 1000)) throw new Error("expired on arrival");
      await cookies.setSession(res, session);
      ctx.logger.info(
        { subject: session.sub.slice(0, 255), approval: state.approval.slice(0, MAX_ID) },
        "approval page: signed in",
      );
    } catch (error) {
      if (error instanceof KeysUnavailable) {
        ctx.unavailable(res, error, "check your sign-in");
        return;
      }
      const why = error instanceof TokenRejected ? error.message : "it had already expired";
      ctx.send(
        res,
        403,
        messagePage(
          "Not signed in",
          `The authorization server's token was not accepted by this server: ${why}.`,
          again,
        ),
      );
      return;
    }
    res.redirect(303, ctx.pageUrl(req, state.approval));
  };
}
