import type { Config } from "../../config.js";

/** The approval page's client at the development authorization server, registered there at start. */
export const DEV_CLIENT_ID = "workflows-mcp-approvals";
export const CLIENT_NAME = "workflows-mcp approval page";
/** Where the server publishes its Client ID Metadata Document (its client id at other issuers). */
export const CLIENT_METADATA_PATH = "/oauth/client-metadata.json";
export const CALLBACK_PATH = "/approvals/callback";

type Where = Pick<Config, "publicUrl" | "loopbackResources">;

/** The base URLs the page is served under: each loopback name in development (each answered as itself), else PUBLIC_URL. */
export function pageBases(config: Where): string[] {
  return config.loopbackResources
    ? config.loopbackResources.map((resource) => new URL(resource).origin)
    : [config.publicUrl];
}

/** The page's redirect URIs, one per base URL. */
export const callbackUrls = (config: Where): string[] =>
  pageBases(config).map((base) => `${base}${CALLBACK_PATH}`);

/** Who the page is at the authorization server, and how it proves it. */
export interface PageClient {
  /** `dev`: the static client of the development server; `configured`: APPROVAL_CLIENT_ID; `metadata-document`: our published document's URL. */
  kind: "dev" | "configured" | "metadata-document";
  clientId: string;
  /** APPROVAL_CLIENT_SECRET: a confidential client (`client_secret_basic`); absent: a public one. */
  clientSecret?: string;
}

export function pageClient(config: Where & Pick<Config, "auth" | "approvals">): PageClient {
  const { clientId, clientSecret } = config.approvals ?? {};
  if (clientId) return { kind: "configured", clientId, ...(clientSecret ? { clientSecret } : {}) };
  if (config.auth.issuer === undefined) return { kind: "dev", clientId: DEV_CLIENT_ID };
  return { kind: "metadata-document", clientId: `${config.publicUrl}${CLIENT_METADATA_PATH}` };
}

/**
 * The Client ID Metadata Document the page is known by where no client is
 * registered for it: an authorization server that accepts them fetches it
 * from its own URL, so there is nothing to register.
 */
export function clientMetadataDocument(config: Where) {
  return {
    client_id: `${config.publicUrl}${CLIENT_METADATA_PATH}`,
    client_name: CLIENT_NAME,
    client_uri: config.publicUrl,
    redirect_uris: [`${config.publicUrl}${CALLBACK_PATH}`],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
}
