/**
 * What `npm run token` does, as a function: gets an access token for a
 * running workflows-mcp server from its development authorization server.
 * Everything is discovered, as a real client would: Protected Resource
 * Metadata → authorization server metadata → dynamic client registration
 * (RFC 7591) → client credentials grant with a resource indicator (RFC 8707).
 */
import { z } from "zod";
import { taskOfScope } from "../scopes.js";

/**
 * RFC 7591 `software_id` of the token command's registrations: the
 * development server grants `client_credentials` to these only (with the
 * other conditions in its `clientCredentialsPolicy`).
 */
export const TOKEN_COMMAND_SOFTWARE_ID = "workflows-mcp-token-command";

export const USAGE = `Usage: npm run -s token -- [--server URL] [scope ...]

Prints an access token for a running workflows-mcp server, minted by its
embedded development authorization server (client credentials grant).

  --server URL  the MCP server (default http://localhost:$PORT, PORT defaulting to 3000)
  scope ...     the scopes to ask for, e.g. workflows:read workflows:run:square
                (any scope the server lists in scopes_supported, per-task ones included).
                With none: every fixed scope the server supports, workflows:admin
                included (it is your own command); per-task scopes only when named.
  --help        prints this text
`;

const ResourceMetadata = z.object({
  resource: z.string(),
  authorization_servers: z.array(z.string()).min(1),
  scopes_supported: z.array(z.string()).default([]),
});
const ServerMetadata = z.object({
  token_endpoint: z.string(),
  registration_endpoint: z.string().optional(),
});
const Registration = z.object({ client_id: z.string(), client_secret: z.string() });
const TokenResponse = z.object({ access_token: z.string(), scope: z.string().optional() });

/** A failure the user can act on; the message says how. */
export class TokenCommandError extends Error {
  override readonly name = "TokenCommandError";
}

export interface DevTokenRequest {
  /** The MCP server's base URL, e.g. http://localhost:3000. */
  server: string;
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
        software_id: TOKEN_COMMAND_SOFTWARE_ID,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      }),
    },
  );
  const credentials = `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`;
  const token = await getJson(metadata.token_endpoint, TokenResponse, "requesting a token", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(credentials).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      resource: prm.resource,
      scope: scopes.join(" "),
    }),
  });
  return { token: token.access_token, scopes };
}
