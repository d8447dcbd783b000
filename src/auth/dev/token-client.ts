/**
 * What `npm run token` does, as a function: gets an access token for a
 * running workflows-mcp server from its development authorization server,
 * as the named user. Everything is discovered, as a real client would:
 * Protected Resource Metadata → authorization server metadata → dynamic
 * client registration (RFC 7591) → an authorization request with PKCE and a
 * resource indicator (RFC 8707) → the consent page, approved as that user
 * (the development server has no passwords) → the code exchanged for a token.
 * The token's `sub` is the user's name, so tokens printed at different times
 * (and a person's sessions in an MCP client) share the runs they start.
 */
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { taskOfScope } from "../scopes.js";
import { consentAs } from "./consent-driver.js";

/** Never contacted: the command reads the code off the redirect the server answers with. */
const REDIRECT_URI = "http://127.0.0.1/token-command/callback";

export const USAGE = `Usage: npm run -s token -- [--server URL] [--user NAME] [scope ...]

Prints an access token for a running workflows-mcp server, from its embedded
development authorization server, approved on its consent page as NAME.

  --server URL  the MCP server (default: http://localhost:$PORT when PORT is set, else
                the server \`npm start\` started last in this folder, else http://localhost:3000)
  --user NAME   who the token is for: its \`sub\`, the owner of the runs it starts
                (default developer, the consent page's default too)
  scope ...     the scopes to ask for, e.g. workflows:read workflows:run:square
                (any scope the server lists in scopes_supported, per-task ones included).
                With none: every fixed scope the server supports, workflows:admin
                included (it is your own command); per-task scopes only when named.
  --help        prints this text

The token goes to stdout; stderr says whose it is, which server it is for,
and when it expires (AUTH_DEV_ACCESS_TOKEN_TTL on the server, 600 s by default).
`;

const ResourceMetadata = z.object({
  resource: z.string(),
  authorization_servers: z.array(z.string()).min(1),
  scopes_supported: z.array(z.string()).default([]),
});
const ServerMetadata = z.object({
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  registration_endpoint: z.string().optional(),
});
const Registration = z.object({ client_id: z.string() });
const TokenResponse = z.object({ access_token: z.string(), scope: z.string().optional() });

/** A failure the user can act on; the message says how. */
export class TokenCommandError extends Error {
  override readonly name = "TokenCommandError";
}

export interface DevTokenRequest {
  /** The MCP server's base URL, e.g. http://localhost:3000. */
  server: string;
  /** The token's subject; default `developer`. */
  user?: string;
  /** Scopes to ask for; empty or absent: every fixed scope the server supports. */
  scopes?: readonly string[];
}

export interface DevToken {
  token: string;
  /** The scopes asked for. */
  scopes: string[];
}

/** The scopes asked for when none are named: the fixed ones the server lists, not per-task ones. */
export const defaultScopes = (supported: readonly string[]): string[] =>
  supported.filter((scope) => taskOfScope(scope) === undefined);

async function getJson<T>(
  url: string,
  schema: z.ZodType<T>,
  what: string,
  init?: RequestInit,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch {
    throw new TokenCommandError(
      `cannot reach ${url} — is the server running? Start it with \`npm start\`.`,
    );
  }
  const body = await res.json().catch(() => undefined);
  if (!res.ok) {
    const detail = (body as { error_description?: string; error?: string } | undefined) ?? {};
    throw new TokenCommandError(
      `${what} failed: HTTP ${res.status} ${detail.error ?? ""} ${detail.error_description ?? ""}`.trim(),
    );
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new TokenCommandError(`${what}: unexpected response from ${url}`);
  return parsed.data;
}

export async function requestDevToken(request: DevTokenRequest): Promise<DevToken> {
  const server = request.server.replace(/\/+$/, "");
  const prm = await getJson(
    `${server}/.well-known/oauth-protected-resource/mcp`,
    ResourceMetadata,
    "reading the protected resource metadata",
  );
  const issuer = prm.authorization_servers[0] as string;
  const metadata = await getJson(
    `${issuer}/.well-known/openid-configuration`,
    ServerMetadata,
    "reading the authorization server metadata",
  ).catch(() => {
    throw new TokenCommandError(
      `${issuer} is not the embedded development authorization server; get a token from your authorization server instead`,
    );
  });
  if (!metadata.registration_endpoint) {
    throw new TokenCommandError(
      `${issuer} does not offer dynamic client registration; this command works with the development server only`,
    );
  }
  const scopes =
    request.scopes && request.scopes.length > 0
      ? [...request.scopes]
      : defaultScopes(prm.scopes_supported);
  const unknown = scopes.filter((scope) => !prm.scopes_supported.includes(scope));
  if (unknown.length > 0) {
    throw new TokenCommandError(
      `unknown scope ${unknown.join(", ")}; the server knows ${prm.scopes_supported.join(", ")}`,
    );
  }
  const client = await getJson(
    metadata.registration_endpoint,
    Registration,
    "registering a client",
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "workflows-mcp token command",
        application_type: "native",
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
      }),
    },
  );
  const verifier = randomBytes(32).toString("base64url");
  const authorization = new URL(metadata.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    scope: scopes.join(" "),
    resource: prm.resource,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state: randomBytes(16).toString("base64url"),
  })) {
    authorization.searchParams.set(name, value);
  }
  const { redirect } = await consentAs(authorization, REDIRECT_URI, {
    username: request.user ?? "developer",
  });
  const code = redirect.searchParams.get("code");
  if (redirect.searchParams.get("iss") !== issuer || code === null) {
    throw new TokenCommandError(
      `the authorization server did not approve: ${redirect.searchParams.get("error_description") ?? redirect.searchParams.get("error") ?? "no code"}`,
    );
  }
  const token = await getJson(metadata.token_endpoint, TokenResponse, "requesting a token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: client.client_id,
      code_verifier: verifier,
      resource: prm.resource,
    }),
  });
  return { token: token.access_token, scopes };
}
