import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

export interface TestIssuer {
  /** http://127.0.0.1:PORT — serves RFC 8414 metadata and the JWKS. */
  issuer: string;
  jwksUrl: string;
  /** Signs an access token with the issuer's published key; claims override the defaults. */
  sign(claims?: JWTPayload, options?: SignOptions): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
}

export interface SignOptions {
  /** Overrides the protected header (e.g. another kid). */
  header?: Record<string, unknown>;
  /** Signs with a key the JWKS does not publish. */
  foreignKey?: boolean;
  /** Seconds from now; default 300. Negative: already expired. */
  expiresIn?: number;
}

/**
 * A real authorization server's token side, on loopback: an ES256 key pair
 * whose public half is served as a JWKS, and RFC 8414 metadata pointing at it.
 */
export async function startTestIssuer(defaults: { audience: string }): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const foreign = await generateKeyPair("ES256");
  const kid = "test-key-1";
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  let fetches = 0;

  const server: Server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === "/jwks") {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else if (req.url === "/.well-known/oauth-authorization-server") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks`, token_endpoint: `${base}/token` }),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    jwksFetches: () => fetches,
    async sign(claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        aud: defaults.audience,
        sub: "user-123",
        client_id: "test-client",
        iat: now,
        exp: now + (options.expiresIn ?? 300),
        scope: "workflows:read workflows:run workflows:cancel",
        ...claims,
      })
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid, ...options.header })
        .sign(options.foreignKey ? foreign.privateKey : privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Exposes the raw public JWK, for forging an HS256 token keyed with it. */
export async function publicJwkOf(issuer: TestIssuer): Promise<JWK> {
  const res = await fetch(issuer.jwksUrl);
  const { keys } = (await res.json()) as { keys: JWK[] };
  const [key] = keys;
  if (!key) throw new Error("the test issuer published no key");
  return key;
}
