import { z } from "zod";
import { fetchFailure } from "./fetch-failure.js";

const Metadata = z.object({ issuer: z.string(), jwks_uri: z.string().url() });

/**
 * Finds the issuer's `jwks_uri`: RFC 8414 metadata first, then OpenID Connect
 * discovery. Both well-known locations are tried in their path-insertion
 * (RFC 8414 §3.1) and path-appended forms so issuers with a path work too.
 * Rejects with an Error naming every URL tried and how it failed (internal
 * detail: log it, do not show it to clients).
 */
export async function discoverJwksUri(issuer: string, timeoutMs = 5_000): Promise<string> {
  const failures: string[] = [];
  for (const url of metadataUrls(issuer)) {
    try {
      const res = await fetch(url, {
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) {
        failures.push(`${url}: HTTP ${res.status}`);
        await res.body?.cancel();
        continue;
      }
      const metadata = Metadata.safeParse(await res.json());
      if (!metadata.success) {
        failures.push(`${url}: no valid issuer and jwks_uri`);
        continue;
      }
      if (withoutSlash(metadata.data.issuer) !== withoutSlash(issuer)) {
        failures.push(`${url}: names issuer ${metadata.data.issuer}, not ${issuer}`);
        continue;
      }
      return metadata.data.jwks_uri;
    } catch (error) {
      failures.push(`${url}: ${fetchFailure(error)}`);
    }
  }
  throw new Error(`could not discover jwks_uri for ${issuer} (${failures.join("; ")})`);
}

const withoutSlash = (url: string) => url.replace(/\/+$/, "");

function metadataUrls(issuer: string): string[] {
  const { origin, pathname } = new URL(issuer);
  const path = pathname.replace(/\/+$/, "");
  const urls = [
    `${origin}/.well-known/oauth-authorization-server${path}`,
    `${origin}/.well-known/openid-configuration${path}`,
    `${origin}${path}/.well-known/openid-configuration`,
  ];
  return [...new Set(urls)];
}
