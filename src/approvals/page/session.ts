import { randomBytes } from "node:crypto";
import type { Request, Response } from "express";
import { z } from "zod";
import type { Caller } from "../../auth/caller.js";
import { isKnownScope } from "../../auth/scopes.js";
import { isLoopbackUrl } from "../../http/loopback.js";
import { type PageKeys, seal, unseal } from "./sealed.js";

/** A page sign-in lasts at most this long, and never past the token it came from. */
export const SESSION_MAX_SECONDS = 3_600;
/** From the redirect to the authorization server until the callback. */
export const SIGN_IN_SECONDS = 600;

const SESSION_COOKIE = "approval_session";
const SIGN_IN_COOKIE = "approval_sign_in";
/** Scopes kept in the session, at most: it holds this server's scopes only, and must fit a cookie. */
const MAX_SCOPES = 32;

const text = (max: number) => z.string().min(1).max(max);

/**
 * Who is signed in to the page, from their verified access token: never the
 * token itself. `sid` binds the forms' CSRF tokens to this sign-in; `asked`
 * is what the sign-in asked for, so a scope the person chose not to grant is
 * not asked for again and again.
 */
export const PageSession = z.object({
  sid: text(64),
  iss: text(2_048),
  sub: text(255),
  cid: z.string().max(2_048),
  scp: z.array(text(200)).max(MAX_SCOPES),
  /** When the token expires, seconds since the epoch. */
  tex: z.number().int(),
  asked: z.array(text(200)).max(MAX_SCOPES),
});
export type PageSession = z.infer<typeof PageSession>;

/** A sign-in under way: what the callback checks and needs (OAuth state, PKCE verifier), and where it returns. */
export const SignInState = z.object({
  state: text(128),
  verifier: text(128),
  redirectUri: text(2_048),
  resource: text(2_048),
  approval: text(256),
  asked: z.array(text(200)).max(MAX_SCOPES),
});
export type SignInState = z.infer<typeof SignInState>;

/** The caller a page session names, as the approval service judges callers. */
export const callerOfSession = (session: PageSession): Caller => ({
  issuer: session.iss,
  subject: session.sub,
  clientId: session.cid,
  scopes: session.scp,
  expiresAt: session.tex,
});

/** A session for `caller` (from a verified token): this server's scopes only, bounded. */
export function newSession(caller: Caller, asked: readonly string[]): PageSession {
  return {
    sid: randomBytes(16).toString("base64url"),
    iss: caller.issuer,
    sub: caller.subject,
    cid: caller.clientId,
    scp: caller.scopes.filter(isKnownScope).slice(0, MAX_SCOPES),
    tex: caller.expiresAt ?? Math.floor(Date.now() / 1000) + SESSION_MAX_SECONDS,
    asked: asked.slice(0, MAX_SCOPES),
  };
}

/** The page's cookies: sealed, HttpOnly, SameSite=Lax, for the page's path only, Secure except on loopback http. */
export class PageCookies {
  readonly #path: string;
  readonly #secure: boolean;

  constructor(
    private readonly keys: PageKeys,
    base: string,
  ) {
    this.#path = `${new URL(base).pathname.replace(/\/+$/, "")}/approvals`;
    this.#secure = !(new URL(base).protocol === "http:" && isLoopbackUrl(base));
  }

  session(req: Request): Promise<PageSession | undefined> {
    return unseal(this.keys.session, readCookie(req, SESSION_COOKIE), PageSession);
  }

  async setSession(res: Response, session: PageSession): Promise<void> {
    const seconds = Math.min(SESSION_MAX_SECONDS, session.tex - Math.floor(Date.now() / 1000));
    this.set(res, SESSION_COOKIE, await seal(this.keys.session, session, seconds), seconds);
  }

  signIn(req: Request): Promise<SignInState | undefined> {
    return unseal(this.keys.signIn, readCookie(req, SIGN_IN_COOKIE), SignInState);
  }

  async setSignIn(res: Response, state: SignInState): Promise<void> {
    this.set(
      res,
      SIGN_IN_COOKIE,
      await seal(this.keys.signIn, state, SIGN_IN_SECONDS),
      SIGN_IN_SECONDS,
    );
  }

  clearSignIn(res: Response): void {
    res.clearCookie(SIGN_IN_COOKIE, this.options());
  }

  private set(res: Response, name: string, value: string, seconds: number) {
    res.cookie(name, value, { ...this.options(), maxAge: seconds * 1000 });
  }

  private options() {
    return { httpOnly: true, sameSite: "lax", secure: this.#secure, path: this.#path } as const;
  }
}

/** A cookie's value from the request's Cookie header (the first of that name), bounded. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 16_384) return undefined;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
