import express, { type NextFunction, type Request, type Response, Router } from "express";
import type Provider from "oidc-provider";
import { meaningOf, whyBroad } from "../scopes.js";
import { type ConsentScope, consentPage } from "./consent-page.js";

/** OpenID Connect's own scopes, which the resource's scope model does not describe. */
const OIDC_SCOPES: Record<string, string> = {
  openid: "Know who you are (your development username)",
  offline_access: "Stay connected without asking again (refresh tokens)",
};

const NO_DESCRIPTION = "No description";

/**
 * What a scope means, for the page. Own properties only: a scope named
 * `constructor`, `toString` or `__proto__` must not find Object.prototype.
 */
export function describeScope(scope: string): string {
  if (Object.hasOwn(OIDC_SCOPES, scope)) return OIDC_SCOPES[scope] as string;
  return meaningOf(scope) ?? NO_DESCRIPTION;
}

const isOidcScope = (scope: string) => Object.hasOwn(OIDC_SCOPES, scope);

/**
 * A requested scope as the page offers it. Least privilege: a box starts
 * checked only for a narrow scope the server can explain (your own runs, one
 * task, OpenID's); a broad one says why it is broad and waits for the person
 * to check it, however many a client asked for (some ask for every scope in
 * `scopes_supported`).
 */
export function offeredScope(name: string): ConsentScope {
  const broad = whyBroad(name);
  const known = isOidcScope(name) || meaningOf(name) !== undefined;
  return {
    name,
    meaning: describeScope(name),
    ...(broad ? { broad } : {}),
    checked: known && broad === undefined,
  };
}

/** A page that grants access must not be framed (clickjacking) nor leak its URL onwards. */
function pageHeaders(_req: Request, res: Response, next: NextFunction) {
  res.set({
    "Content-Security-Policy":
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  });
  next();
}

/** The development username, which becomes the token's `sub`: printable, at most 64 characters. */
function username(value: unknown): string {
  const name =
    typeof value === "string"
      ? value
          .replace(/\p{Cc}/gu, "")
          .trim()
          .slice(0, 64)
      : "";
  return name || "developer";
}

/**
 * Login and consent in one step, for development: a username (no password)
 * and a checkbox per requested scope. Only the checked scopes are granted;
 * granting none denies the request.
 */
export function consentRoutes(provider: Provider): Router {
  const router = Router();
  router.use(pageHeaders);

  router.get("/:uid", async (req: Request, res: Response) => {
    try {
      const { uid, params, session } = await provider.interactionDetails(req, res);
      const client = await provider.Client.find(String(params.client_id));
      const requested = String(params.scope ?? "")
        .split(" ")
        .filter(Boolean);
      res.type("html").send(
        consentPage({
          action: `/interaction/${uid}`,
          clientName: String(client?.clientName ?? params.client_id),
          clientId: String(params.client_id),
          redirectUri: String(params.redirect_uri ?? ""),
          resource: typeof params.resource === "string" ? params.resource : undefined,
          username: session?.accountId ?? "developer",
          scopes: requested.map(offeredScope),
        }),
      );
    } catch (error) {
      res
        .status(400)
        .type("text")
        .send(`This authorization request has expired or is unknown: ${(error as Error).message}`);
    }
  });

  router.post(
    "/:uid",
    express.urlencoded({ extended: false, limit: "16kb" }),
    async (req: Request, res: Response) => {
      try {
        const { params } = await provider.interactionDetails(req, res);
        const requested = String(params.scope ?? "")
          .split(" ")
          .filter(Boolean);
        const checked = ([] as unknown[]).concat(req.body?.scope ?? []);
        const granted = requested.filter((scope) => checked.includes(scope));
        if (req.body?.decision !== "approve" || granted.length === 0) {
          await provider.interactionFinished(
            req,
            res,
            { error: "access_denied", error_description: "the developer granted no scopes" },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        const accountId = username(req.body.username);
        // A grant per decision (server.ts: no earlier grant is reused), so what the person
        // refused now is asked again the next time a client needs it: a step-up can succeed.
        const grant = new provider.Grant({ accountId, clientId: String(params.client_id) });
        // The resource's scopes are also OP scopes (so clients may register with them):
        // grant them both ways. What is not granted is rejected, so this authorization
        // completes without it instead of asking again.
        const refused = requested.filter((scope) => !granted.includes(scope));
        grant.addOIDCScope(granted.join(" "));
        grant.rejectOIDCScope(refused.join(" "));
        const resources = ([] as string[]).concat(
          (params.resource as string | string[] | undefined) ?? [],
        );
        const ofResource = (scopes: string[]) => scopes.filter((s) => !isOidcScope(s)).join(" ");
        for (const resource of resources) {
          grant.addResourceScope(resource, ofResource(granted));
          grant.rejectResourceScope(resource, ofResource(refused));
        }
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId }, consent: { grantId: await grant.save() } },
          { mergeWithLastSubmission: false },
        );
      } catch (error) {
        res
          .status(400)
          .type("text")
          .send(
            `This authorization request has expired or is unknown: ${(error as Error).message}`,
          );
      }
    },
  );
  return router;
}
