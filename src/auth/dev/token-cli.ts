/**
 * `npm run -s token -- [--server URL] [scope …]`: prints an access token for
 * the running server, from its development authorization server. Everything
 * is discovered, as a real client would: Protected Resource Metadata →
 * authorization server metadata → dynamic client registration (RFC 7591) →
 * client credentials grant with a resource indicator (RFC 8707).
 */
import { parseArgs } from "node:util";
import { z } from "zod";

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
const TokenResponse = z.object({ access_token: z.string() });

class CliError extends Error {}

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
    throw new CliError(`cannot reach ${url} — is the server running? Start it with \`npm start\`.`);
  }
  const body = await res.json().catch(() => undefined);
  if (!res.ok) {
    const detail = (body as { error_description?: string; error?: string } | undefined) ?? {};
    throw new CliError(
      `${what} failed: HTTP ${res.status} ${detail.error ?? ""} ${detail.error_description ?? ""}`.trim(),
    );
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new CliError(`${what}: unexpected response from ${url}`);
  return parsed.data;
}

async function main() {
  const { values, positionals } = parseArgs({
    options: { server: { type: "string" } },
    allowPositionals: true,
  });
  const server = (values.server ?? `http://localhost:${process.env.PORT ?? 3000}`).replace(
    /\/+$/,
    "",
  );
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
    throw new CliError(
      `${issuer} is not the embedded development authorization server; get a token from your authorization server instead`,
    );
  });
  if (!metadata.registration_endpoint) {
    throw new CliError(
      `${issuer} does not offer dynamic client registration; this command works with the development server only`,
    );
  }
  const scopes = positionals.length > 0 ? positionals : prm.scopes_supported;
  const unknown = scopes.filter((scope) => !prm.scopes_supported.includes(scope));
  if (unknown.length > 0) {
    throw new CliError(
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
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      }),
    },
  );
  const token = await getJson(metadata.token_endpoint, TokenResponse, "requesting a token", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      resource: prm.resource,
      scope: scopes.join(" "),
    }),
  });
  process.stdout.write(`${token.access_token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${error instanceof CliError ? error.message : String(error)}\n`);
  process.exit(1);
});
