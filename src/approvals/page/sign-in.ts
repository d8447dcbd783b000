import * as oauth from "oauth4webapi";
import { isLoopbackUrl } from "../../http/loopback.js";
import type { Logger } from "../../logger.js";
import { CALLBACK_PATH, type PageClient } from "./client.js";
import type { SignInState } from "./session.js";

/** Each request to the authorization server gets this long. */
const TIMEOUT_MS = 10_000;
/** The issuer's metadata is read again after this long (its endpoints rarely move). */
const METADATA_TTL_MS = 3_600_000;
/** After a failed read, the next sign-in waits this long before trying again. */
const FAILURE_TTL_MS = 10_000;

/** The page cannot sign anyone in until an operator configures it: the message says what to set. */
export class ClientNotConfigured extends Error {
  override readonly name = "ClientNotConfigured";
}

/** The authorization server could not be reached or answered wrongly: try again later. */
export class AuthorizationServerUnavailable extends Error {
  override readonly name = "AuthorizationServerUnavailable";
}

/** The sign-in did not complete: the person declined, or it was stale or tampered with. */
export class SignInFailed extends Error {
  override readonly name = "SignInFailed";
}

export interface SignInOptions {
  issuer: string;
  client: PageClient;
  logger: Logger;
}

/**
 * The approval page as an OAuth client of the server's own issuer
 * (oauth4webapi): authorization code with PKCE (S256), `state`, and the MCP
 * resource as `resource` (RFC 8707), so the token it gets is one the
 * server's own verifier accepts — the same trust path as /mcp.
 */
export function createSignIn(options: SignInOptions) {
  const { issuer, client: page, logger } = options;
  const client: oauth.Client = { client_id: page.clientId };
  const clientAuth = page.clientSecret ? oauth.ClientSecretBasic(page.clientSecret) : oauth.None();
  // Plain http only to an issuer on this machine (the development server).
  const http = { [oauth.allowInsecureRequests]: isLoopbackUrl(issuer) };
  const signal = () => AbortSignal.timeout(TIMEOUT_MS);
  let metadata: { server: Promise<oauth.AuthorizationServer>; until: number } | undefined;
  let unconfiguredLogged = false;

  /** RFC 8414 metadata, else OpenID Connect discovery; cached. */
  async function discover(): Promise<oauth.AuthorizationServer> {
    const url = new URL(issuer);
    const failures: string[] = [];
    for (const algorithm of ["oauth2", "oidc"] as const) {
      try {
        const response = await oauth.discoveryRequest(url, { algorithm, signal, ...http });
        return await oauth.processDiscoveryResponse(url, response);
      } catch (error) {
        failures.push(`${algorithm === "oauth2" ? "RFC 8414" : "OpenID"}: ${messageOf(error)}`);
      }
    }
    throw new AuthorizationServerUnavailable(
      `the metadata of ${issuer} could not be read (${failures.join("; ")})`,
    );
  }

  function server(): Promise<oauth.AuthorizationServer> {
    const now = Date.now();
    if (!metadata || metadata.until <= now) {
      const server = discover();
      metadata = { server, until: now + METADATA_TTL_MS };
      server.catch((error: unknown) => {
        logger.warn({ issuer, reason: messageOf(error) }, "approval page: issuer metadata");
        if (metadata?.server === server) metadata.until = Date.now() + FAILURE_TTL_MS;
      });
    }
    return metadata.server;
  }

  /** The metadata, checked for what the page needs of it. */
  async function usable(): Promise<oauth.AuthorizationServer> {
    const as = await server();
    if (!as.authorization_endpoint || !as.token_endpoint) {
      throw new AuthorizationServerUnavailable(
        `the metadata of ${issuer} names no authorization or token endpoint`,
      );
    }
    if (page.kind === "metadata-document" && as.client_id_metadata_document_supported !== true) {
      const message = `${issuer} does not accept Client ID Metadata Documents (its metadata has no client_id_metadata_document_supported), so the approval page has no client there: register one with the redirect URI <PUBLIC_URL>${CALLBACK_PATH} and set APPROVAL_CLIENT_ID (and APPROVAL_CLIENT_SECRET for a confidential client)`;
      if (!unconfiguredLogged) {
        unconfiguredLogged = true;
        logger.error({ issuer }, `approval page: ${message}`);
      }
      throw new ClientNotConfigured(message);
    }
    return as;
  }

  return {
    /** Where to send the browser to sign in, and what the callback will need (seal it). */
    async start(request: {
      redirectUri: string;
      resource: string;
      scopes: readonly string[];
      approval: string;
      /** `login`: ask the person to sign in again (as someone else). */
      prompt?: "login";
    }): Promise<{ url: URL; state: SignInState }> {
      const as = await usable();
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint as string);
      const params: Record<string, string> = {
        response_type: "code",
        client_id: page.clientId,
        redirect_uri: request.redirectUri,
        scope: request.scopes.join(" "),
        resource: request.resource,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        ...(request.prompt ? { prompt: request.prompt } : {}),
      };
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return {
        url,
        state: {
          state,
          verifier,
          redirectUri: request.redirectUri,
          resource: request.resource,
          approval: request.approval,
          asked: [...request.scopes],
        },
      };
    },

    /** Checks the authorization response against `state` and exchanges its code: the access token. */
    async finish(callback: URL, state: SignInState): Promise<string> {
      const as = await usable();
      let params: URLSearchParams;
      try {
        params = oauth.validateAuthResponse(as, client, callback, state.state);
      } catch (error) {
        if (error instanceof oauth.AuthorizationResponseError) {
          throw new SignInFailed(
            `the authorization server answered ${error.error}${error.error_description ? `: ${error.error_description}` : ""}`,
          );
        }
        throw new SignInFailed(
          "this answer from the authorization server does not belong to the sign-in this browser started (another tab may have started a newer one)",
        );
      }
      let response: Response;
      try {
        response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          clientAuth,
          params,
          state.redirectUri,
          state.verifier,
          { additionalParameters: { resource: state.resource }, signal, ...http },
        );
      } catch (error) {
        throw new AuthorizationServerUnavailable(
          `the token endpoint of ${issuer} could not be reached (${messageOf(error)})`,
        );
      }
      try {
        const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
        return tokens.access_token;
      } catch (error) {
        if (error instanceof oauth.ResponseBodyError) {
          throw new SignInFailed(
            `the authorization server refused the sign-in (${error.error}${error.error_description ? `: ${error.error_description}` : ""})`,
          );
        }
        throw new AuthorizationServerUnavailable(
          `the token endpoint of ${issuer} answered unexpectedly (${messageOf(error)})`,
        );
      }
    },
  };
}

export type SignIn = ReturnType<typeof createSignIn>;

/** An error's message only: oauth4webapi's errors carry the response (with the code) in `cause`. */
const messageOf = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).slice(0, 300);
