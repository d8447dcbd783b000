import type { ClientMetadata, Configuration, KoaContextWithOIDC } from "oidc-provider";

type OidcErrors = typeof import("oidc-provider")["errors"];

/** RFC 8252 §7.3: the loopback names a native client's redirect may use (any port, any path). */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

const isLoopbackHttp = (uri: URL) => uri.protocol === "http:" && LOOPBACK.has(uri.hostname);
const isWeb = (uri: URL) => uri.protocol === "http:" || uri.protocol === "https:";

/**
 * Why a redirect URI is unsafe, or undefined: plain http leaves the machine
 * only to a loopback address (anything else hands the code to the network),
 * a fragment is never allowed (RFC 6749 §3.1.2), nor a wildcard (the code
 * goes to exactly the URI registered). Custom schemes (`cursor://…`,
 * `vscode://…`) and loopback callbacks on any port are what desktop clients
 * register, and are accepted.
 */
function unsafeRedirect(raw: unknown): string | undefined {
  if (typeof raw !== "string" || !URL.canParse(raw)) return `${String(raw)} is not a URI`;
  const uri = new URL(raw);
  if (raw.includes("#")) return `${raw} has a fragment`;
  if (raw.includes("*")) return `${raw} has a wildcard: register the exact callback`;
  if (uri.protocol === "http:" && !LOOPBACK.has(uri.hostname)) {
    return `${raw} is plain http to a host other than this machine: use https, or a loopback address (127.0.0.1, [::1], localhost)`;
  }
  return undefined;
}

/**
 * Dynamic registration as real MCP clients send it. Desktop editors register
 * a custom-scheme or loopback callback without `application_type`, which
 * OAuth's default (`web`) would refuse: such a client is `native` (RFC 8252),
 * as its redirects say. Only unsafe redirects are refused (unsafeRedirect).
 *
 * oidc-provider calls this validator for each declared property, present or
 * not, on every registration; `software_id` (RFC 7591) is declared for that
 * hook only. It also lifts the registered `scope` cap: MCP clients register
 * with the scope of their first 401 (`workflows:read`), and a cap would make
 * every later step-up fail; what a token carries is what the person consents
 * to, scope by scope.
 */
export function registrationChecks(errors: OidcErrors): Configuration["extraClientMetadata"] {
  return {
    properties: ["software_id"],
    validator(ctx: KoaContextWithOIDC | undefined, key: string, _value, metadata: ClientMetadata) {
      if (key !== "software_id") return;
      delete metadata.scope;
      const redirects = Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris : [];
      for (const redirect of redirects) {
        const unsafe = unsafeRedirect(redirect);
        if (unsafe) throw new errors.InvalidClientMetadata(`redirect_uris: ${unsafe}`);
      }
      // oidc-provider has filled in its default (`web`) by now: what the client sent is the body.
      const sent = ctx?.oidc.body as { application_type?: unknown } | undefined;
      if (ctx?.oidc.route === "registration" && sent?.application_type === undefined) {
        const uris = redirects.map((redirect) => new URL(redirect));
        const native = uris.some((uri) => !isWeb(uri) || isLoopbackHttp(uri));
        metadata.application_type = native ? "native" : "web";
      }
    },
  };
}
