import express, { type NextFunction, type Request, type Response, Router } from "express";
import { callbackHandler } from "./callback.js";
import {
  CALLBACK_PATH,
  CLIENT_METADATA_PATH,
  clientMetadataDocument,
  pageClient,
} from "./client.js";
import { type ApprovalPageOptions, pageContext } from "./context.js";
import { decideHandler } from "./decide.js";
import { messagePage, PAGE_HEADERS } from "./html.js";
import { showHandler, switchHandler } from "./show.js";

export type { ApprovalPageOptions } from "./context.js";

/**
 * The approval page (issue 19): `GET /approvals/<id>` shows a request to a
 * person signed in at the server's own authorization server, `POST` decides
 * it, `GET /approvals/callback` ends a sign-in; and, where no client is
 * registered for the page, its Client ID Metadata Document. Every answer
 * under /approvals is a page (never a stack trace, never JSON), with
 * PAGE_HEADERS.
 */
export function approvalPageRouter(options: ApprovalPageOptions): Router {
  const ctx = pageContext(options);
  const router = Router();

  if (pageClient(options.config).kind === "metadata-document") {
    router.get(CLIENT_METADATA_PATH, (_req, res) => {
      res.set("Cache-Control", "public, max-age=300").json(clientMetadataDocument(options.config));
    });
  }
  router.use("/approvals", (_req, res, next) => {
    res.set(PAGE_HEADERS);
    next();
  });
  router.get(CALLBACK_PATH, callbackHandler(ctx));
  router.get("/approvals/:id/sign-in", switchHandler(ctx));
  router.get("/approvals/:id", showHandler(ctx));
  router.post(
    "/approvals/:id",
    express.urlencoded({ extended: false, limit: "8kb", parameterLimit: 10 }),
    decideHandler(ctx),
  );
  // A form too large or malformed, or anything unforeseen: answered as a page too.
  router.use("/approvals", (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      ctx.send(
        res,
        status,
        messagePage("Not understood", "This form could not be read. Nothing was decided."),
      );
      return;
    }
    ctx.unavailable(res, error, "answer");
  });
  return router;
}
