import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { base64url, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KEYS_UNAVAILABLE_MESSAGE, KeysUnavailable, TokenRejected } from "../src/auth/errors.js";
import { createJwtVerifier, type JwtVerifier, type VerifierOptions } from "../src/auth/verifier.js";
import {
  type EndpointMode,
  publicJwkOf,
  startTestIssuer,
  type TestIssuer,
} from "./helpers/issuer.js";

const AUDIENCE = "http://127.0.0.1:3000/mcp";
const SCOPES = "workflows:read workflows:run workflows:cancel";
const now = () => Math.floor(Date.now() / 1000);

/** Everything a test starts, closed after it. */
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function issuerAndVerifier(
  options: Partial<VerifierOptions> & { discover?: boolean } = {},
): Promise<{ issuer: TestIssuer; verifier: JwtVerifier }> {
  const issuer = await startTestIssuer({ audience: AUDIENCE });
  cleanup.push(() => issuer.close());
  const { discover, keys, ...rest } = options;
  const verifier = createJwtVerifier({
    issuer: issuer.issuer,
    ...(discover ? {} : { jwksUrl: issuer.jwksUrl }),
    audiences: [AUDIENCE],
    algorithms: ["ES256", "RS256"],
    keys: { timeoutMs: 5_000, ...keys },
    ...rest,
  });
  cleanup.push(() => verifier.close());
  return { issuer, verifier };
}

/** The rejection `promise` ends with, asserted to be a TokenRejected. */
async function rejection(promise: Promise<unknown>): Promise<TokenRejected> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRejected);
  return error as TokenRejected;
}

async function unavailable(promise: Promise<unknown>): Promise<KeysUnavailable> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeysUnavailable);
  return error as KeysUnavailable;
}

const encode = (value: unknown) =>
  base64url.encode(typeof value === "string" ? value : JSON.stringify(value));

/** A compact JWS with these header and payload and a junk signature: for checks that come before the signature. */
const unsigned = (header: unknown, payload: unknown, signature = "c2ln") =>
  `${encode(header)}.${encode(payload)}.${signature}`;

const claims = (issuer: TestIssuer, extra: Record<string, unknown> = {}) => ({
  iss: issuer.issuer,
  aud: AUDIENCE,
  sub: "user-123",
  iat: now(),
  exp: now() + 300,
  scope: SCOPES,
  ...extra,
});

/** A closed loopback port: connection refused. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe("accepting a valid token", () => {
  it("returns the caller: subject and issuer in extra, client id, scopes, expiry and resource", async () => {
    const { issuer, verifier } = await issuerAndVerifier();
    const token = await issuer.sign({ exp: now() + 120 });
    const { exp } = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());
    expect(await verifier.verifyAccessToken(token)).toEqual({
      token,
      clientId: "test-client",
      scopes: ["workflows:read", "workflows:run", "workflows:cancel"],
      expiresAt: exp,
      resource: new URL(AUDIENCE),
      extra: { subject: "user-123", issuer: issuer.issuer },
    });
  });

  it("finds the JWKS through the issuer's RFC 8414 metadata", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ discover: true });
    expect(verifier.jwksUrl()).toBeUndefined();
    await verifier.verifyAccessToken(await issuer.sign());
    expect(verifier.jwksUrl()).toBe(issuer.jwksUrl);
    expect(issuer.metadataFetches()).toBe(1);
  });

  it.each([
    ["at+jwt", "at+jwt"],
    ["application/at+jwt", "application/at+jwt"],
    ["AT+JWT (case-insensitive)", "AT+JWT"],
    ["JWT (Auth0, Descope, Entra, Keycloak)", "JWT"],
    ["no typ (Okta custom authorization servers)", undefined],
  ])("accepts typ %s by default", async (_name, typ) => {
    const { issuer, verifier } = await issuerAndVerifier();
    const token = await issuer.sign({}, { header: { typ } });
    await expect(verifier.verifyAccessToken(token)).resolves.toMatchObject({ token });
  });

  it("accepts a lifetime of exactly the maximum (Auth0's default of 24 hours)", async () => {
    const { issuer, verifier } = await issuerAndVerifier();
    const iat = now() - 10;
    const token = await issuer.sign({ iat, exp: iat + 86_400 });
    await expect(verifier.verifyAccessToken(token)).resolves.toMatchObject({
      expiresAt: iat + 86_400,
    });
  });

  it("reads the client id from client_id, else azp, else cid, ignoring claims that are not strings", async () => {
    const { issuer, verifier } = await issuerAndVerifier();
    const clientOf = async (extra: Record<string, unknown>) =>
      (await verifier.verifyAccessToken(await issuer.sign({ client_id: undefined, ...extra })))
        .clientId;
    expect(await clientOf({ azp: "azp-client" })).toBe("azp-client");
    expect(await clientOf({ client_id: { a: 1 }, azp: "azp-client" })).toBe("azp-client");
    expect(await clientOf({ client_id: "", cid: "okta-client" })).toBe("okta-client");
    expect(await clientOf({ client_id: "x".repeat(256) })).toBe("");
    expect(await clientOf({ client_id: ["a"] })).toBe("");
  });

  it("reads scopes from scope, scp and the configured claim, keeping only scope tokens", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ scopeClaim: "permissions" });
    const token = await issuer.sign({
      scope: "workflows:read  workflows:read",
      scp: ["workflows:run", 42, { scope: "workflows:admin" }, "two words", 'quo"te'],
      permissions: ["workflows:cancel", `workflows:run:${"x".repeat(200)}`],
    });
    expect((await verifier.verifyAccessToken(token)).scopes).toEqual([
      "workflows:read",
      "workflows:run",
      "workflows:cancel",
    ]);
  });

  it("refuses to be built with a symmetric algorithm or none", () => {
    for (const algorithms of [["HS256"], ["ES256", "none"], []]) {
      expect(() =>
        createJwtVerifier({ issuer: "http://127.0.0.1:1", audiences: [AUDIENCE], algorithms }),
      ).toThrow(TypeError);
    }
  });
});

describe("refusing a token", () => {
  /** [name, token, code, description] — every refusal, pinned. */
  const cases: [
    string,
    (issuer: TestIssuer) => Promise<string> | string,
    TokenRejected["code"],
    string,
  ][] = [
    ["not a JWT", () => "not-a-jwt", "ERR_TOKEN_MALFORMED", "token is malformed"],
    ["an empty string", () => "", "ERR_TOKEN_MALFORMED", "token is malformed"],
    [
      "an encrypted token (JWE, five parts)",
      () => "a.b.c.d.e",
      "ERR_TOKEN_MALFORMED",
      "token is malformed",
    ],
    [
      "a header that is not JSON",
      () => "bm90.e30.c2ln",
      "ERR_TOKEN_MALFORMED",
      "token is malformed",
    ],
    [
      "a payload that is not an object",
      () => unsigned({ alg: "ES256" }, [1, 2]),
      "ERR_TOKEN_MALFORMED",
      "token is malformed",
    ],
    [
      "a token larger than any header",
      (issuer) => unsigned({ alg: "ES256" }, claims(issuer, { pad: "x".repeat(17_000) })),
      "ERR_TOKEN_MALFORMED",
      "token is malformed",
    ],
    [
      "an unencoded payload (b64: false)",
      (issuer) => unsigned({ alg: "ES256", b64: false, crit: ["b64"] }, claims(issuer)),
      "ERR_TOKEN_MALFORMED",
      "token is malformed",
    ],
    [
      "alg none",
      (issuer) => `${encode({ alg: "none" })}.${encode(claims(issuer))}.`,
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "token signing algorithm is not allowed",
    ],
    [
      "no alg",
      (issuer) => unsigned({ typ: "JWT" }, claims(issuer)),
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "token signing algorithm is not allowed",
    ],
    [
      "HS256 keyed with the issuer's public key",
      async (issuer) => {
        const jwk = await publicJwkOf(issuer);
        return new SignJWT(claims(issuer))
          .setProtectedHeader({ alg: "HS256", kid: jwk.kid })
          .sign(new TextEncoder().encode(JSON.stringify(jwk)));
      },
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "token signing algorithm is not allowed",
    ],
    [
      "an asymmetric algorithm not in the configured list",
      (issuer) => unsigned({ alg: "PS512" }, claims(issuer)),
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "token signing algorithm is not allowed",
    ],
    ...["dpop+jwt", "secevent+jwt", "logout+jwt", "application/okta-internal-at+jwt", "JOSE"].map(
      (typ): (typeof cases)[number] => [
        `typ ${typ}`,
        (issuer) => issuer.sign({}, { header: { typ } }),
        "ERR_TOKEN_TYPE_NOT_ALLOWED",
        "token type (typ) is not an access token type",
      ],
    ),
    [
      "typ that is not a string",
      (issuer) => issuer.sign({}, { header: { typ: 1 } }),
      "ERR_TOKEN_TYPE_NOT_ALLOWED",
      "token type (typ) is not an access token type",
    ],
    [
      "another issuer",
      (issuer) => issuer.sign({ iss: "http://evil.test" }),
      "ERR_TOKEN_ISSUER_NOT_TRUSTED",
      "token issuer is not trusted by this server",
    ],
    [
      "no issuer",
      (issuer) => issuer.sign({ iss: undefined }),
      "ERR_TOKEN_ISSUER_NOT_TRUSTED",
      "token issuer is not trusted by this server",
    ],
    [
      "another audience",
      (issuer) => issuer.sign({ aud: "http://other.test/mcp" }),
      "ERR_TOKEN_AUDIENCE_MISMATCH",
      "token audience is not this resource",
    ],
    [
      "an audience list without this resource",
      (issuer) => issuer.sign({ aud: ["http://other.test/mcp", 7] }),
      "ERR_TOKEN_AUDIENCE_MISMATCH",
      "token audience is not this resource",
    ],
    [
      "expired",
      (issuer) => issuer.sign({}, { expiresIn: -60 }),
      "ERR_TOKEN_EXPIRED",
      "token expired",
    ],
    [
      "no exp",
      (issuer) => issuer.sign({ exp: undefined }),
      "ERR_TOKEN_CLAIM_INVALID",
      "token claim exp is missing or invalid",
    ],
    [
      "exp as a string",
      (issuer) => issuer.sign({ exp: String(now() + 300) }),
      "ERR_TOKEN_CLAIM_INVALID",
      "token claim exp is missing or invalid",
    ],
    [
      "not yet valid",
      (issuer) => issuer.sign({ nbf: now() + 120 }),
      "ERR_TOKEN_NOT_YET_VALID",
      "token is not yet valid",
    ],
    [
      "iat ten years in the future",
      (issuer) => issuer.sign({ iat: now() + 10 * 365 * 86_400, exp: now() + 300 }),
      "ERR_TOKEN_ISSUED_IN_FUTURE",
      "token issued-at time is in the future",
    ],
    [
      "iat as a string",
      (issuer) => issuer.sign({ iat: "yesterday" }),
      "ERR_TOKEN_CLAIM_INVALID",
      "token claim iat is missing or invalid",
    ],
    [
      "exp a hundred years out",
      (issuer) => issuer.sign({ exp: now() + 100 * 365 * 86_400 }),
      "ERR_TOKEN_LIFETIME_TOO_LONG",
      "token lifetime is longer than this server accepts",
    ],
    [
      "exp two days out and no iat",
      (issuer) => issuer.sign({ iat: undefined, exp: now() + 2 * 86_400 }),
      "ERR_TOKEN_LIFETIME_TOO_LONG",
      "token lifetime is longer than this server accepts",
    ],
    [
      "issued two days ago (older than the maximum age)",
      (issuer) => issuer.sign({ iat: now() - 2 * 86_400, exp: now() + 300 }),
      "ERR_TOKEN_TOO_OLD",
      "token was issued too long ago",
    ],
    ...[
      ["an object", { a: 1 }],
      ["a number", 42],
      ["empty", ""],
      ["absent", undefined],
      ["256 characters", "x".repeat(256)],
      ["with a newline", "alice\nadmin"],
    ].map(([what, sub]): (typeof cases)[number] => [
      `sub ${what}`,
      (issuer) => issuer.sign({ sub }),
      "ERR_TOKEN_CLAIM_INVALID",
      "token subject (sub) must be a non-empty string of at most 255 characters",
    ]),
    [
      "more than 256 scopes",
      (issuer) => issuer.sign({ scope: Array.from({ length: 257 }, (_, i) => `s${i}`).join(" ") }),
      "ERR_TOKEN_CLAIM_INVALID",
      "token carries more than 256 scopes",
    ],
    [
      "a signature by another key",
      (issuer) => issuer.sign({}, { foreignKey: true }),
      "ERR_TOKEN_SIGNATURE_INVALID",
      "token signature is invalid",
    ],
    [
      "a tampered payload",
      async (issuer) => {
        const [header, , signature] = (await issuer.sign()).split(".");
        return `${header}.${encode(claims(issuer, { sub: "admin" }))}.${signature}`;
      },
      "ERR_TOKEN_SIGNATURE_INVALID",
      "token signature is invalid",
    ],
    [
      "a key id the issuer does not publish",
      (issuer) => issuer.sign({}, { header: { kid: "no-such-key" } }),
      "ERR_TOKEN_UNKNOWN_KEY",
      "token key id matches no key of the issuer",
    ],
  ];

  it.each(cases)("%s", async (_name, make, code, description) => {
    const { issuer, verifier } = await issuerAndVerifier();
    const error = await rejection(verifier.verifyAccessToken(await make(issuer)));
    expect({ code: error.code, description: error.description, message: error.message }).toEqual({
      code,
      description,
      message: description,
    });
  });

  it("with a smaller maximum age, refuses an older iat the lifetime check allows", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ maxTokenAgeSeconds: 3600 });
    const error = await rejection(
      verifier.verifyAccessToken(await issuer.sign({ iat: now() - 7200, exp: now() + 60 })),
    );
    expect(error.code).toBe("ERR_TOKEN_TOO_OLD");
    await expect(
      verifier.verifyAccessToken(await issuer.sign({ iat: now() - 3000, exp: now() + 60 })),
    ).resolves.toMatchObject({ clientId: "test-client" });
  });

  it("with a smaller maximum lifetime, refuses what the default allows", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ maxTokenLifetimeSeconds: 600 });
    const error = await rejection(
      verifier.verifyAccessToken(await issuer.sign({}, { expiresIn: 3600 })),
    );
    expect(error.code).toBe("ERR_TOKEN_LIFETIME_TOO_LONG");
  });

  it.each([
    ["JWT", "JWT"],
    ["no typ", undefined],
  ])("with requireAtJwt, refuses typ %s", async (_name, typ) => {
    const { issuer, verifier } = await issuerAndVerifier({ requireAtJwt: true });
    const error = await rejection(
      verifier.verifyAccessToken(await issuer.sign({}, { header: { typ } })),
    );
    expect([error.code, error.description]).toEqual([
      "ERR_TOKEN_TYPE_NOT_ALLOWED",
      "token type (typ) must be at+jwt",
    ]);
    await expect(
      verifier.verifyAccessToken(await issuer.sign({}, { header: { typ: "application/at+jwt" } })),
    ).resolves.toMatchObject({ clientId: "test-client" });
  });
});

describe("when the issuer's keys are unavailable", () => {
  const modes: EndpointMode[] = ["error", "hang", "garbage", "wrong-json", "reset"];
  const reasons: Record<EndpointMode, string> = {
    ok: "",
    error: "HTTP 500",
    hang: "timed out after 300 ms",
    garbage: "not JSON",
    "wrong-json": "not a JWK set",
    reset: "the connection was closed before an answer came",
  };
  // Fetches that hang must end within the test: a short timeout for "hang" only.
  const keysFor = (mode: EndpointMode) => (mode === "hang" ? { keys: { timeoutMs: 300 } } : {});

  it.each(modes)(
    "a JWKS that answers %s: a valid token is KeysUnavailable, never invalid_token",
    async (mode) => {
      const { issuer, verifier } = await issuerAndVerifier(keysFor(mode));
      issuer.setJwksMode(mode);
      const error = await unavailable(verifier.verifyAccessToken(await issuer.sign()));
      // The client is told the authorization server is unavailable, and nothing else.
      expect(error.message).toBe(KEYS_UNAVAILABLE_MESSAGE);
      expect(error.message).not.toContain("127.0.0.1");
      expect(error.detail).toBe(`JWKS ${issuer.jwksUrl}: ${reasons[mode]}`);
      expect(error.retryAfterSeconds).toBe(1);
    },
  );

  it.each(modes)("metadata that answers %s: a valid token is KeysUnavailable", async (mode) => {
    const { issuer, verifier } = await issuerAndVerifier({ discover: true, ...keysFor(mode) });
    issuer.setMetadataMode(mode);
    const error = await unavailable(verifier.verifyAccessToken(await issuer.sign()));
    expect(error.message).toBe(KEYS_UNAVAILABLE_MESSAGE);
    expect(error.detail).toContain(
      `could not discover jwks_uri for ${issuer.issuer} (${issuer.issuer}/.well-known/oauth-authorization-server: `,
    );
    await expect(verifier.discover()).rejects.toBeInstanceOf(KeysUnavailable);
  });

  it("an issuer nobody listens for: KeysUnavailable, naming the refused URL in detail only", async () => {
    const dead = await deadUrl();
    const verifier = createJwtVerifier({
      issuer: dead,
      audiences: [AUDIENCE],
      algorithms: ["ES256"],
    });
    cleanup.push(() => verifier.close());
    const token = unsigned(
      { alg: "ES256", typ: "at+jwt" },
      { ...claims({ issuer: dead } as TestIssuer) },
    );
    const error = await unavailable(verifier.verifyAccessToken(token));
    expect(error.message).toBe(KEYS_UNAVAILABLE_MESSAGE);
    expect(error.detail).toContain(
      `${dead}/.well-known/oauth-authorization-server: connection refused: nothing listens at that address and port`,
    );
  });

  it("a token refused on its face is still invalid_token: no key is needed to refuse it", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ discover: true });
    issuer.setMetadataMode("error");
    const refusals = await Promise.all(
      [
        "not-a-jwt",
        `${encode({ alg: "none" })}.${encode(claims(issuer))}.`,
        await issuer.sign({}, { expiresIn: -60 }),
        await issuer.sign({ aud: "http://other.test/mcp" }),
        await issuer.sign({}, { header: { typ: "dpop+jwt" } }),
        await issuer.sign({ sub: { a: 1 } }),
      ].map((token) => rejection(verifier.verifyAccessToken(token))),
    );
    expect(refusals.map((r) => r.code)).toEqual([
      "ERR_TOKEN_MALFORMED",
      "ERR_TOKEN_ALGORITHM_NOT_ALLOWED",
      "ERR_TOKEN_EXPIRED",
      "ERR_TOKEN_AUDIENCE_MISMATCH",
      "ERR_TOKEN_TYPE_NOT_ALLOWED",
      "ERR_TOKEN_CLAIM_INVALID",
    ]);
    // None of them cost a request to the issuer.
    expect(issuer.metadataFetches()).toBe(0);
  });

  it("logs the detail of each failure, and never a token", async () => {
    const records: { level: string; record: Record<string, unknown>; message: string }[] = [];
    const logger = {
      warn: (record: Record<string, unknown>, message: string) =>
        records.push({ level: "warn", record, message }),
      info: (record: Record<string, unknown>, message: string) =>
        records.push({ level: "info", record, message }),
    };
    const { issuer, verifier } = await issuerAndVerifier({ discover: true, logger });
    issuer.setMetadataMode("error");
    const token = await issuer.sign();
    await unavailable(verifier.verifyAccessToken(token));
    expect(records).toEqual([
      {
        level: "warn",
        message: "issuer metadata discovery failed",
        record: {
          issuer: issuer.issuer,
          reason: expect.stringContaining("HTTP 500"),
          failures: 1,
          retryInSeconds: 1,
        },
      },
    ]);
    expect(JSON.stringify(records)).not.toContain(token);
  });
});

describe("backoff during an outage", () => {
  /** A clock the test moves: the backoff is judged by it, so nothing here waits. */
  function manualClock() {
    let current = Date.now();
    return { clock: () => current, advance: (ms: number) => (current += ms) };
  }

  it("50 concurrent requests cause one discovery, and none more until the backoff has passed", async () => {
    const time = manualClock();
    const { issuer, verifier } = await issuerAndVerifier({ discover: true, clock: time.clock });
    issuer.setMetadataMode("error");
    const token = await issuer.sign();
    const burst = () =>
      Promise.all(Array.from({ length: 50 }, () => unavailable(verifier.verifyAccessToken(token))));

    const first = await burst();
    expect(issuer.metadataFetches()).toBe(1);
    expect(new Set(first.map((e) => e.detail)).size).toBe(1);
    const second = await burst();
    expect(issuer.metadataFetches()).toBe(1);
    expect(second[0]?.detail).toMatch(
      /^metadata of .*: not retried for another 1000 ms after 1 failure\(s\)/,
    );
    expect(second[0]?.retryAfterSeconds).toBe(1);

    time.advance(1000); // first wait: 1 s
    await burst();
    expect(issuer.metadataFetches()).toBe(2);
    time.advance(1000); // the wait doubled to 2 s
    const waiting = await burst();
    expect(issuer.metadataFetches()).toBe(2);
    expect(waiting[0]?.retryAfterSeconds).toBe(1);
    time.advance(1000);
    await burst();
    expect(issuer.metadataFetches()).toBe(3);

    // Doubling stops at 30 s.
    for (const wait of [4000, 8000, 16000, 30000, 30000]) {
      time.advance(wait);
      const [failure] = await burst();
      expect(failure?.retryAfterSeconds).toBe(Math.min(wait * 2, 30000) / 1000);
    }
    expect(issuer.metadataFetches()).toBe(8);

    // Recovery: the next attempt after the wait succeeds, and the token is accepted.
    issuer.setMetadataMode("ok");
    time.advance(30000);
    await expect(verifier.verifyAccessToken(token)).resolves.toMatchObject({ token });
    expect(issuer.metadataFetches()).toBe(9);
  });

  it("the same for the JWKS: one fetch per backoff period, whatever the traffic", async () => {
    const time = manualClock();
    const { issuer, verifier } = await issuerAndVerifier({ clock: time.clock });
    issuer.setJwksMode("error");
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_, i) => issuer.sign({ jti: `${i}` })),
    );
    const burst = () => Promise.all(tokens.map((t) => unavailable(verifier.verifyAccessToken(t))));

    await burst();
    expect(issuer.jwksFetches()).toBe(1);
    await burst();
    expect(issuer.jwksFetches()).toBe(1);
    time.advance(1000);
    await burst();
    expect(issuer.jwksFetches()).toBe(2);

    issuer.setJwksMode("ok");
    time.advance(2000);
    await expect(verifier.verifyAccessToken(tokens[0] as string)).resolves.toMatchObject({
      scopes: ["workflows:read", "workflows:run", "workflows:cancel"],
    });
    expect(issuer.jwksFetches()).toBe(3);
  });

  it("a hung JWKS holds one request at a time, not one per caller", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ keys: { timeoutMs: 300 } });
    issuer.setJwksMode("hang");
    const token = await issuer.sign();
    const errors = await Promise.all(
      Array.from({ length: 20 }, () => unavailable(verifier.verifyAccessToken(token))),
    );
    expect(issuer.jwksFetches()).toBe(1);
    expect(errors[0]?.detail).toBe(`JWKS ${issuer.jwksUrl}: timed out after 300 ms`);
  });
});

describe("the verified-token cache", () => {
  it("keeps a verified token until the cache's maximum age, then verifies it again", async () => {
    let current = Date.now();
    const clock = () => current;
    const { issuer, verifier } = await issuerAndVerifier({ clock, cache: { maxTtlSeconds: 120 } });
    const seen = await issuer.sign({}, { expiresIn: 3600 });
    const unseen = await issuer.sign({}, { expiresIn: 3600 });
    await verifier.verifyAccessToken(seen);

    // The issuer rotates its key; we learn of it.
    await issuer.rotateKey();
    await verifier.refreshKeys();
    expect(issuer.jwksFetches()).toBe(2);

    // The token already verified is served from the cache, without a signature check…
    await expect(verifier.verifyAccessToken(seen)).resolves.toMatchObject({ token: seen });
    // …while an equally old token never seen needs the withdrawn key.
    expect((await rejection(verifier.verifyAccessToken(unseen))).code).toBe(
      "ERR_TOKEN_UNKNOWN_KEY",
    );

    // After the cache's maximum age the rotation applies to it too.
    current += 121_000;
    expect((await rejection(verifier.verifyAccessToken(seen))).code).toBe("ERR_TOKEN_UNKNOWN_KEY");
  });

  it("never serves a token past its exp", async () => {
    let current = Date.now();
    const { issuer, verifier } = await issuerAndVerifier({ clock: () => current });
    const token = await issuer.sign({}, { expiresIn: 60 });
    await verifier.verifyAccessToken(token);
    current += 60_000 + 6_000; // past exp and the 5 s tolerance
    expect((await rejection(verifier.verifyAccessToken(token))).code).toBe("ERR_TOKEN_EXPIRED");
  });

  it("without the cache, a rotation applies at once", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ cache: false });
    const token = await issuer.sign();
    await verifier.verifyAccessToken(token);
    await issuer.rotateKey();
    await verifier.refreshKeys();
    expect((await rejection(verifier.verifyAccessToken(token))).code).toBe("ERR_TOKEN_UNKNOWN_KEY");
  });

  it("hands out a fresh AuthInfo each time: a caller's changes do not reach the next", async () => {
    const { issuer, verifier } = await issuerAndVerifier();
    const token = await issuer.sign();
    const first = await verifier.verifyAccessToken(token);
    first.scopes.push("workflows:admin");
    (first.extra as Record<string, unknown>).subject = "someone-else";
    expect(await verifier.verifyAccessToken(token)).toMatchObject({
      scopes: ["workflows:read", "workflows:run", "workflows:cancel"],
      extra: { subject: "user-123" },
    });
  });

  it("remembers a bad signature briefly, and not rejections that time or keys can change", async () => {
    let current = Date.now();
    const { issuer, verifier } = await issuerAndVerifier({ clock: () => current });
    const forged = await issuer.sign({}, { foreignKey: true });
    const first = await rejection(verifier.verifyAccessToken(forged));
    expect(await rejection(verifier.verifyAccessToken(forged))).toBe(first);
    current += 61_000;
    const later = await rejection(verifier.verifyAccessToken(forged));
    expect(later).not.toBe(first);
    expect(later.code).toBe("ERR_TOKEN_SIGNATURE_INVALID");

    const early = await issuer.sign({ nbf: now() + 120 }, { expiresIn: 600 });
    const notYet = await rejection(verifier.verifyAccessToken(early));
    expect(await rejection(verifier.verifyAccessToken(early))).not.toBe(notYet);
  });
});

describe("health and warm-up", () => {
  it("is not ready before the keys are fetched, and ready once they are", async () => {
    const { issuer, verifier } = await issuerAndVerifier({ discover: true });
    expect(verifier.health()).toEqual({
      ready: false,
      state: "starting",
      detail: "the authorization server's keys are not loaded yet",
    });
    await verifier.warmUp();
    expect(issuer.metadataFetches()).toBe(1);
    expect(issuer.jwksFetches()).toBe(1);
    expect(verifier.health()).toEqual({
      ready: true,
      state: "ready",
      detail: "the authorization server's keys are loaded",
    });
  });

  it("a wrong or unreachable issuer is never ready; warm-up keeps trying and succeeds once it answers", async () => {
    const { issuer, verifier } = await issuerAndVerifier({
      discover: true,
      keys: { backoff: { initialMs: 20, maxMs: 40 } },
    });
    issuer.setMetadataMode("error");
    const warm = verifier.warmUp();
    await vi.waitFor(() => expect(issuer.metadataFetches()).toBeGreaterThanOrEqual(2));
    const health = verifier.health();
    expect(health).toMatchObject({ ready: false, state: "unavailable" });
    expect(health.detail).toMatch(
      /^the authorization server's keys could not be fetched \(\d+ attempt\(s\) failed\)$/,
    );
    issuer.setMetadataMode("ok");
    await warm;
    expect(verifier.health().ready).toBe(true);
  });

  it("close() ends a warm-up that cannot succeed", async () => {
    const dead = await deadUrl();
    const verifier = createJwtVerifier({
      issuer: dead,
      audiences: [AUDIENCE],
      algorithms: ["ES256"],
      keys: { backoff: { initialMs: 60_000, maxMs: 60_000 } },
    });
    const warm = verifier.warmUp();
    await vi.waitFor(() => expect(verifier.health().state).toBe("unavailable"));
    verifier.close();
    await expect(warm).resolves.toBeUndefined();
    expect(verifier.health().ready).toBe(false);
  });

  it("once ready, an outage of the issuer degrades but does not unready it: cached keys keep verifying", async () => {
    let current = Date.now();
    const { issuer, verifier } = await issuerAndVerifier({
      clock: () => current,
      keys: { refreshIntervalMs: 60_000 },
    });
    await verifier.warmUp();
    issuer.setJwksMode("error");

    // A refresh falls due; health starts it in the background, and reports its failure.
    current += 61_000;
    verifier.health();
    await vi.waitFor(() => expect(verifier.health().state).toBe("degraded"));
    expect(verifier.health()).toEqual({
      ready: true,
      state: "degraded",
      detail:
        "degraded: the authorization server's keys could not be refreshed (1 attempt(s) failed); cached keys are in use",
    });
    expect(issuer.jwksFetches()).toBe(2);
    // Tokens never seen before still verify, with the cached key.
    await expect(verifier.verifyAccessToken(await issuer.sign())).resolves.toMatchObject({
      clientId: "test-client",
    });

    // The issuer comes back: the next refresh clears the degradation.
    issuer.setJwksMode("ok");
    current += 1_000;
    await verifier.refreshKeys();
    expect(verifier.health().state).toBe("ready");
  });
});
