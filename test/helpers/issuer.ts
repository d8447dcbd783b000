import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

/**
 * How an endpoint of the test issuer answers: normally, or failing the way
 * real identity providers do during an outage.
 */
export type EndpointMode =
  | "ok"
  /** HTTP 500 with an HTML error page. */
  | "error"
  /** Accepts the request and never answers (until the issuer closes). */
  | "hang"
  /** 200 with a body that is not JSON. */
  | "garbage"
  /** 200 with JSON that is not what was asked for (`{"keys":"none"}`, `{}` for metadata). */
  | "wrong-json"
  /** Drops the connection without answering. */
  | "reset";

export interface TestIssuer {
  /** http://127.0.0.1:PORT — serves RFC 8414 metadata and the JWKS. */
  issuer: string;
  jwksUrl: string;
  /** Signs an access token with the issuer's published key; claims override the defaults. */
  sign(claims?: JWTPayload | Record<string, unknown>, options?: SignOptions): Promise<string>;
  /** How many times the JWKS was requested (answered or not). */
  jwksFetches(): number;
  /** How many times the RFC 8414 metadata was requested (answered or not). */
  metadataFetches(): number;
  /** Replaces the signing key with a new one (new kid): the JWKS publishes only the new key. */
  rotateKey(): Promise<void>;
  /** Makes the JWKS endpoint answer as `mode` from now on. */
  setJwksMode(mode: EndpointMode): void;
  /** Makes the metadata endpoints answer as `mode` from now on. */
  setMetadataMode(mode: EndpointMode): void;
  close(): Promise<void>;
}

export interface SignOptions {
  /** Overrides the protected header (e.g. another kid, a `typ`; `typ: undefined` omits it). */
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
  let { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const foreign = await generateKeyPair("ES256");
  let kid = "test-key-1";
  let jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  let jwksFetches = 0;
  let metadataFetches = 0;
  let jwksMode: EndpointMode = "ok";
  let metadataMode: EndpointMode = "ok";

  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    mode: EndpointMode,
    body: unknown,
    wrong: unknown,
  ) => {
    switch (mode) {
      case "ok":
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
        return;
      case "error":
        res.writeHead(500, { "content-type": "text/html" }).end("<h1>Internal Server Error</h1>");
        return;
      case "hang":
        return;
      case "garbage":
        res.writeHead(200, { "content-type": "application/json" }).end("<html>maintenance</html>");
        return;
      case "wrong-json":
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(wrong));
        return;
      case "reset":
        req.socket.destroy();
        return;
    }
  };

  const server: Server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === "/jwks") {
      jwksFetches++;
      answer(req, res, jwksMode, { keys: [jwk] }, { keys: "none" });
    } else if (req.url === "/.well-known/oauth-authorization-server") {
      metadataFetches++;
      const metadata = { issuer: base, jwks_uri: `${base}/jwks`, token_endpoint: `${base}/token` };
      answer(req, res, metadataMode, metadata, {});
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    jwksFetches: () => jwksFetches,
    metadataFetches: () => metadataFetches,
    async rotateKey() {
      ({ publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true }));
      kid = `test-key-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
    },
    setJwksMode: (mode) => {
      jwksMode = mode;
    },
    setMetadataMode: (mode) => {
      metadataMode = mode;
    },
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
      } as JWTPayload)
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid, ...options.header })
        .sign(options.foreignKey ? foreign.privateKey : privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
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
