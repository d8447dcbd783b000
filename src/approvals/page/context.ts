import type { Request, Response } from "express";
import { KeysUnavailable } from "../../auth/errors.js";
import { approveScopeFor } from "../../auth/policy.js";
import { DEFAULT_SCOPES, isKnownScope, sortScopes } from "../../auth/scopes.js";
import type { JwtVerifier } from "../../auth/verifier.js";
import type { Config } from "../../config.js";
import type { Logger } from "../../logger.js";
import type { ApprovalRecord } from "../approval.js";
import type { Approvals } from "../service.js";
import { CALLBACK_PATH, pageClient } from "./client.js";
import { messagePage } from "./html.js";
import { type PageKeys, pageKeys } from "./sealed.js";
import { PageCookies, type PageSession } from "./session.js";
import {
  AuthorizationServerUnavailable,
  ClientNotConfigured,
  createSignIn,
  type SignIn,
} from "./sign-in.js";

export interface ApprovalPageOptions {
  approvals: Approvals;
  /** The verifier /mcp uses: the page trusts exactly the tokens /mcp trusts. */
  verifier: Pick<JwtVerifier, "verifyAccessToken">;
  issuer: string;
  config: Pick<Config, "publicUrl" | "resource" | "loopbackResources" | "auth" | "approvals">;
  logger: Logger;
}

/** An approval id longer than this names no request. */
export const MAX_ID = 256;

export type Outline = Pick<ApprovalRecord, "id" | "task" | "mode" | "requestedBy">;

/** What the page's handlers share: its parts, and how each request's URLs, cookies and answers are made. */
export interface PageContext extends ApprovalPageOptions {
  keys: PageKeys;
  signIn: SignIn;
  /** The base URL this request reached the page under: its loopback name in development, else PUBLIC_URL. */
  baseOf(req: Request): string;
  cookiesOf(req: Request): PageCookies;
  pageUrl(req: Request, id: string): string;
  send(res: Response, status: number, html: string): void;
  /** The page for a failure that is not the person's doing, logged; never a stack. */
  unavailable(res: Response, error: unknown, what: string): void;
  /**
   * Sends the browser to sign in for request `id`, asking for what deciding
   * it takes; a step-up keeps what `previous` held (as a challenge asks for
   * what is held too), a switch (`prompt: login`) starts afresh.
   */
  startSignIn(
    req: Request,
    res: Response,
    id: string,
    outline: Outline | undefined,
    previous?: PageSession,
    prompt?: "login",
  ): Promise<void>;
}

export function pageContext(options: ApprovalPageOptions): PageContext {
  const { config, logger } = options;
  const keys = pageKeys(config.approvals?.secret);
  const signIn = createSignIn({ issuer: options.issuer, client: pageClient(config), logger });
  const baseOf = (req: Request) =>
    req.loopback ? new URL(req.loopback.resource).origin : config.publicUrl;
  const cookiesOf = (req: Request) => new PageCookies(keys, baseOf(req));
  const send = (res: Response, status: number, html: string) => {
    res.status(status).type("html").send(html);
  };
  return {
    ...options,
    keys,
    signIn,
    baseOf,
    cookiesOf,
    send,
    pageUrl: (req, id) => `${baseOf(req)}/approvals/${encodeURIComponent(id)}`,
    unavailable(res, error, what) {
      if (error instanceof ClientNotConfigured) {
        send(res, 503, messagePage("The approval page is not set up", error.message));
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn({ reason: reason.slice(0, 300) }, `approval page: ${what}`);
      send(
        res,
        503,
        messagePage(
          "Try again shortly",
          error instanceof AuthorizationServerUnavailable || error instanceof KeysUnavailable
            ? `The authorization server cannot be reached right now, so you cannot be signed in (${what}). Try again in a minute.`
            : `The approval page could not ${what} just now. Try again in a minute.`,
        ),
      );
    },
    async startSignIn(req, res, id, outline, previous, prompt) {
      const needed = outline?.mode === "approver" ? [approveScopeFor(outline.task)] : [];
      const held = prompt ? [] : (previous?.scp.filter(isKnownScope) ?? []);
      const { url, state } = await signIn.start({
        redirectUri: `${baseOf(req)}${CALLBACK_PATH}`,
        resource: req.loopback?.resource ?? config.resource,
        scopes: sortScopes([...DEFAULT_SCOPES, ...held, ...needed]),
        approval: id,
        ...(prompt ? { prompt } : {}),
      });
      await cookiesOf(req).setSignIn(res, state);
      res.redirect(303, url.href);
    },
  };
}
