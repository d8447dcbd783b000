import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Provider, { type Configuration, errors } from "oidc-provider";
import type { Logger } from "../../logger.js";
import { consentRoutes } from "./consent.js";
import { escapeHtml } from "./consent-page.js";
import { signingKeys } from "./keys.js";

export interface DevAuthorizationServerOptions {
  /** 0 picks a free port. Always bound to 127.0.0.1. */
  port: number;
  /** The MCP resource identifier: the only audience this server mints tokens for. */
  resource: string;
  /** Scope → one-line meaning, shown on the consent page. */
  scopes: Record<string, string>;
  logger: Logger;
  accessTokenTtlSeconds?: number;
}

export interface DevAuthorizationServer {
  issuer: string;
  close(): Promise<void>;
}

/**
 * The embedded development authorization server: `oidc-provider` (a certified
 * OpenID Provider) on loopback, minting JWT access tokens for our resource
 * only. The MCP server validates them exactly as it would any issuer's.
 */
export async function startDevAuthorizationServer(
  options: DevAuthorizationServerOptions,
): Promise<DevAuthorizationServer> {
  if (process.env.NODE_ENV === "production") {
    throw new Error("the development authorization server never runs with NODE_ENV=production");
  }
  const app = express();
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, await configuration(options));
  provider.on("server_error", (_ctx, error) =>
    options.logger.error({ err: error }, "dev authorization server error"),
  );

  app.disable("x-powered-by");
  app.use("/interaction", consentRoutes(provider, options.scopes));
  // RFC 8414 metadata at its own well-known path: the same document as OpenID discovery.
  app.get("/.well-known/oauth-authorization-server", (req, _res, next) => {
    req.url = "/.well-known/openid-configuration";
    next();
  });
  app.use(provider.callback());
  options.logger.info({ issuer }, "development authorization server listening");

  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function configuration(options: DevAuthorizationServerOptions): Promise<Configuration> {
  const resourceScopes = Object.keys(options.scopes).join(" ");
  const accessTokenTTL = options.accessTokenTtlSeconds ?? 600;
  return {
    jwks: await signingKeys(),
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    scopes: ["openid", "offline_access", ...Object.keys(options.scopes)],
    claims: { openid: ["sub"] },
    // The one signing key is ES256; clients registering without a preference get it.
    clientDefaults: { id_token_signed_response_alg: "ES256", grant_types: ["authorization_code"] },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      // Client ID Metadata Documents (the MCP authorization spec's preferred registration).
      // oidc-provider's implementation needs URL.parse, which Node has from 22 on.
      clientIdMetadataDocument: { enabled: typeof URL.parse === "function", ack: "draft-02" },
      resourceIndicators: {
        enabled: true,
        // Clients that omit `resource` still get a token for the one resource there is.
        defaultResource: () => options.resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== options.resource) {
            throw new errors.InvalidTarget(
              `this development server issues tokens for ${options.resource} only`,
            );
          }
          return {
            scope: resourceScopes,
            audience: options.resource,
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
    clientBasedCORS: () => true,
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
      ctx.body = `<!doctype html><meta charset="utf-8"><title>Authorization error</title><body style="font-family:system-ui;margin:3rem"><h1>Authorization error</h1><p><code>${escapeHtml(String(out.error))}</code>: ${escapeHtml(String(out.error_description ?? ""))}</p></body>`;
    },
  };
}
