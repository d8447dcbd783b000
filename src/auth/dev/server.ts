import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Configuration } from "oidc-provider";
import { isProductionEnv } from "../../config.js";
import type { Logger } from "../../logger.js";
import { supportedScopes } from "../scopes.js";
import { consentRoutes } from "./consent.js";
import { escapeHtml } from "./consent-page.js";
import { signingKeys } from "./keys.js";
import { registrationChecks } from "./registration.js";

export interface DevAuthorizationServerOptions {
  /** 0 picks a free port. Always bound to 127.0.0.1. */
  port: number;
  /** The MCP resource identifier: the audience of tokens whose request names none. */
  resource: string;
  /**
   * Every resource identifier it mints tokens for (default: `resource` alone):
   * without PUBLIC_URL, the MCP server answers each loopback name as itself,
   * so a client that connected to 127.0.0.1 asks for 127.0.0.1's resource.
   */
  resources?: readonly string[];
  /**
   * The tasks the backend offers: the server grants the fixed scopes and the
   * per-task scopes of these (`supportedScopes(taskNames)`, what Protected
   * Resource Metadata lists). Fixed at start.
   */
  taskNames: readonly string[];
  /** Of those, the tasks whose approval scopes it grants too (`workflows:approve:<task>`). */
  approverTasks?: readonly string[];
  logger: Logger;
  accessTokenTtlSeconds?: number;
  /**
   * The approval page's client (src/approvals/page/client.ts), registered at
   * start so the page works with no configuration: public, PKCE, these exact
   * redirect URIs.
   */
  approvalPageClient?: { clientId: string; clientName: string; redirectUris: readonly string[] };
}

export interface DevAuthorizationServer {
  issuer: string;
  /** Whether Client ID Metadata Documents are advertised and accepted (the runtime has `URL.parse`). */
  clientIdMetadataDocuments: boolean;
  close(): Promise<void>;
}

/**
 * oidc-provider prints `oidc-provider WARNING: Unsupported runtime. Use
 * Node.js v22.x LTS, or a later LTS release.` when it is first imported on a
 * runtime whose LTS codename sorts before Jod (Node 22), or on any non-LTS
 * release (lib/index.js). This mirrors that test, so our explanation is
 * printed exactly when the warning is.
 */
export function oidcProviderWarnsAboutRuntime(
  release: { lts?: string | undefined } = process.release as { lts?: string },
): boolean {
  return typeof release.lts !== "string" || release.lts.charCodeAt(0) < "J".charCodeAt(0);
}

/**
 * Printed on stderr immediately before oidc-provider is loaded, so a
 * newcomer reads what its warnings mean before reading them: "Unsupported
 * runtime" (on import, below Node 22 LTS) and "a quick start
 * development-only in-memory adapter is used, you MUST change it…" (when
 * the provider is created, on every runtime). The warnings themselves are
 * left alone: they are the library authors' honest statements, and
 * filtering them would also hide them from someone whose runtime really
 * breaks oidc-provider.
 */
export function startupNotice(runtimeWarning = oidcProviderWarnsAboutRuntime()): string {
  const lines = [
    `workflows-mcp: the development authorization server (oidc-provider) prints ${runtimeWarning ? "the warnings" : "the warning"} below; ${runtimeWarning ? "they are" : "it is"} expected:`,
    ...(runtimeWarning
      ? [
          `  - "Unsupported runtime": its authors support Node.js 22 LTS and later. It works on Node.js ${process.version} for development; Node.js 22 (as on Render) silences this.`,
        ]
      : []),
    `  - "in-memory adapter": by design. Keys, clients and grants live in memory: a restart invalidates tokens and clients, which simply authorize again.`,
    "  It listens on 127.0.0.1 only and never runs with NODE_ENV=production.",
  ];
  return `${lines.join("\n")}\n`;
}

let oidcProvider: Promise<typeof import("oidc-provider")> | undefined;

/** oidc-provider, loaded on first use (never in production), with our explanation before its warnings. */
function loadOidcProvider(): Promise<typeof import("oidc-provider")> {
  if (!oidcProvider) {
    process.stderr.write(startupNotice());
    oidcProvider = import("oidc-provider");
  }
  return oidcProvider;
}

/**
 * The embedded development authorization server: `oidc-provider` (a certified
 * OpenID Provider) on loopback, minting JWT access tokens for our resource
 * only. The MCP server validates them exactly as it would any issuer's.
 *
 * A web page in the developer's browser is the adversary it is built
 * against (it has no passwords: anyone who can drive it can mint tokens):
 * - `Host` must be its own loopback address, so DNS rebinding cannot make it
 *   same-origin with a page;
 * - CORS is granted on the token endpoint only to public clients, from an
 *   origin of one of their own redirect URIs (a browser-based MCP client such
 *   as the Inspector at http://localhost:6274 exchanging its code), never to
 *   a client holding a secret; registration has no CORS at all;
 * - no grant mints a token without the consent page: `client_credentials` is
 *   off (`npm run token` goes through the consent page as a named user, see
 *   token-client.ts), and the consent form needs the interaction's cookie,
 *   which a cross-site page's POST does not carry.
 */
export async function startDevAuthorizationServer(
  options: DevAuthorizationServerOptions,
): Promise<DevAuthorizationServer> {
  if (isProductionEnv(process.env.NODE_ENV)) {
    throw new Error("the development authorization server never runs with NODE_ENV=production");
  }
  const scopes = supportedScopes(options.taskNames, options.approverTasks);
  const { default: Provider, errors } = await loadOidcProvider();
  const app = express();
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const clientIdMetadataDocuments = typeof URL.parse === "function";
  const provider = new Provider(
    issuer,
    configuration(options, scopes, errors, clientIdMetadataDocuments, await signingKeys()),
  );
  provider.on("server_error", (_ctx, error) =>
    options.logger.error({ err: error }, "dev authorization server error"),
  );

  app.disable("x-powered-by");
  app.use(loopbackHostOnly(port));
  app.use("/interaction", consentRoutes(provider));
  // RFC 8414 metadata at its own well-known path: the same document as OpenID discovery.
  app.get("/.well-known/oauth-authorization-server", (req, _res, next) => {
    req.url = "/.well-known/openid-configuration";
    next();
  });
  app.use(provider.callback());
  options.logger.info({ issuer }, "development authorization server listening");

  return {
    issuer,
    clientIdMetadataDocuments,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * DNS-rebinding protection: a page at http://evil.example:PORT whose name
 * now resolves to 127.0.0.1 reaches this server with `Host:
 * evil.example:PORT` and would otherwise be same-origin with it.
 */
function loopbackHostOnly(port: number) {
  const allowed = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  return (req: Request, res: Response, next: NextFunction) => {
    if (allowed.has(String(req.headers.host).toLowerCase())) {
      next();
      return;
    }
    res
      .status(403)
      .set("Cache-Control", "no-store")
      .json({
        error: "invalid_request",
        error_description: `this development authorization server answers only to Host 127.0.0.1:${port} or localhost:${port}`,
      });
  };
}

type OidcErrors = typeof import("oidc-provider")["errors"];

function configuration(
  options: DevAuthorizationServerOptions,
  scopes: readonly string[],
  errors: OidcErrors,
  clientIdMetadataDocuments: boolean,
  jwks: Configuration["jwks"],
): Configuration {
  const resourceScopes = scopes.join(" ");
  const resources = new Set(options.resources ?? [options.resource]);
  const accessTokenTTL = options.accessTokenTtlSeconds ?? 600;
  return {
    jwks,
    ...(options.approvalPageClient
      ? {
          clients: [
            {
              client_id: options.approvalPageClient.clientId,
              client_name: options.approvalPageClient.clientName,
              application_type: "web",
              redirect_uris: [...options.approvalPageClient.redirectUris],
              grant_types: ["authorization_code"],
              response_types: ["code"],
              token_endpoint_auth_method: "none",
            },
          ],
        }
      : {}),
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    scopes: ["openid", "offline_access", ...scopes],
    claims: { openid: ["sub"] },
    // The one signing key is ES256; clients registering without a preference get it.
    clientDefaults: { id_token_signed_response_alg: "ES256", grant_types: ["authorization_code"] },
    // OAuth 2.1: the authorization code flow (with PKCE) only; no implicit or hybrid flow.
    responseTypes: ["code"],
    extraClientMetadata: registrationChecks(errors),
    // Every authorization asks the person (a grant is never reused across requests): what
    // was refused once is offered again when a client needs it, so step-up always works.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return typeof grantId === "string" ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: false },
      // Kept for clients that do not support Client ID Metadata Documents (and for the
      // token command); MCP 2026-07-28 deprecates it in favour of them.
      registration: { enabled: true },
      revocation: { enabled: true },
      // Client ID Metadata Documents: the MCP authorization spec's preferred registration.
      // oidc-provider's implementation needs URL.parse (Node 22, and Node 20.18 and later).
      clientIdMetadataDocument: { enabled: clientIdMetadataDocuments, ack: "draft-02" },
      resourceIndicators: {
        enabled: true,
        // Clients that omit `resource` still get a token for the one resource there is.
        defaultResource: () => options.resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (!resources.has(resourceIndicator)) {
            throw new errors.InvalidTarget(
              `this development server issues tokens for ${[...resources].join(", ")} only`,
            );
          }
          return {
            scope: resourceScopes,
            audience: resourceIndicator,
            accessTokenTTL,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "ES256" } },
          };
        },
      },
    },
    // PKCE with S256 for every authorization code, confidential clients included.
    pkce: { required: () => true },
    // MCP clients rarely ask for offline_access; a refresh token spares them a consent page an hour.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    // Token (and revocation) endpoint CORS: a public client, from the origin of one of its redirect URIs.
    clientBasedCORS(_ctx, origin, client) {
      if (origin === "null" || client.clientAuthMethod !== "none") return false;
      return (client.redirectUris ?? []).some(
        (uri) => URL.canParse(uri) && new URL(uri).origin === origin,
      );
    },
    ttl: {
      AccessToken: accessTokenTTL,
      ClientCredentials: accessTokenTTL,
      AuthorizationCode: 120,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 86_400,
      IdToken: 600,
    },
    renderError(ctx, out) {
      ctx.type = "html";
      ctx.set(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      );
      ctx.set("X-Frame-Options", "DENY");
      ctx.body = `<!doctype html><meta charset="utf-8"><title>Authorization error</title><body style="font-family:system-ui;margin:3rem"><h1>Authorization error</h1><p><code>${escapeHtml(String(out.error))}</code>: ${escapeHtml(String(out.error_description ?? ""))}</p></body>`;
    },
  };
}
