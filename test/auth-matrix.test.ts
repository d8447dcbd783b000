import { base64url, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicJwkOf } from "./helpers/issuer.js";
import {
  ALL_SCOPES,
  errorBody,
  PRM_URL,
  postMcp,
  RESOURCE,
  rpcMessages,
  type Stack,
  startStack,
  toolCall,
} from "./helpers/stack.js";

/** Each tool with arguments that pass validation, and the scopes it declares. */
const TOOLS = [
  { name: "whoami", args: {}, scopes: [] },
  { name: "list_tasks", args: {}, scopes: ["workflows:read"] },
  { name: "start_task_run", args: { task: "echo", input: ["hi"] }, scopes: ["workflows:run"] },
  { name: "get_task_run", args: { id: "trn-missing" }, scopes: ["workflows:read"] },
  { name: "list_task_runs", args: {}, scopes: ["workflows:read"] },
  { name: "cancel_task_run", args: { id: "trn-missing" }, scopes: ["workflows:cancel"] },
  { name: "get_task_run_logs", args: { id: "trn-missing" }, scopes: ["workflows:read"] },
] as const;

const challenge = (error?: string, description?: string) =>
  [
    ...(error ? [`error="${error}"`, `error_description="${description}"`] : []),
    `scope="${ALL_SCOPES}"`,
    `resource_metadata="${PRM_URL}"`,
  ].join(", ");

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

/** Each way a token can be wrong, with the description the 401 must carry. */
const INVALID: [string, () => Promise<string>, string][] = [
  ["expired", () => stack.issuer.sign({}, { expiresIn: -60 }), "token expired"],
  [
    "not yet valid",
    () => stack.issuer.sign({ nbf: Math.floor(Date.now() / 1000) + 120 }),
    "token is not yet valid",
  ],
  [
    "wrong issuer",
    () => stack.issuer.sign({ iss: "http://evil.test" }),
    "token issuer is not trusted by this server",
  ],
  [
    "wrong audience",
    () => stack.issuer.sign({ aud: "http://other.test/mcp" }),
    "token audience is not this resource",
  ],
  [
    "bad signature",
    () => stack.issuer.sign({}, { foreignKey: true }),
    "token signature is invalid",
  ],
  [
    "unknown key id",
    () => stack.issuer.sign({}, { header: { kid: "no-such-key" } }),
    "token key id matches no key of the issuer",
  ],
  ["alg none", async () => unsignedToken(), "token signing algorithm is not allowed"],
  [
    "HS256 keyed with the public key",
    () => hs256WithPublicKey(),
    "token signing algorithm is not allowed",
  ],
  ["not a JWT", async () => "not-a-jwt", "token is malformed"],
];

describe.each(TOOLS)("$name", (tool) => {
  it("without a token: 401 with a challenge naming the metadata and scopes, no error code", async () => {
    const res = await postMcp(stack.server.url, toolCall(tool.name, tool.args));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer ${challenge()}`);
    expect(await res.json()).toEqual({
      error: "unauthorized",
      error_description: "A bearer token is required in the Authorization header",
    });
  });

  it.each(INVALID)("%s: 401 invalid_token", async (_case, token, description) => {
    const res = await postMcp(stack.server.url, toolCall(tool.name, tool.args), {
      authorization: `Bearer ${await token()}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(
      `Bearer ${challenge("invalid_token", description)}`,
    );
    expect(await res.json()).toEqual({ error: "invalid_token", error_description: description });
  });

  it.runIf(tool.scopes.length > 0)(
    "missing its scope: 403 insufficient_scope, nothing runs",
    async () => {
      const others = ALL_SCOPES.split(" ").filter(
        (s) => !(tool.scopes as readonly string[]).includes(s),
      );
      const token = await stack.issuer.sign({ scope: others.join(" ") });
      const res = await postMcp(stack.server.url, toolCall(tool.name, tool.args, 7), {
        authorization: `Bearer ${token}`,
      });
      expect(res.status).toBe(403);
      const needed = tool.scopes.join(" ");
      const description = `${tool.name} requires ${needed}; the token lacks ${needed}`;
      // the challenge asks for what the call needs plus what the token already holds
      expect(res.headers.get("www-authenticate")).toBe(
        `Bearer error="insufficient_scope", error_description="${description}", scope="${ALL_SCOPES}", resource_metadata="${PRM_URL}"`,
      );
      expect(await res.json()).toEqual({
        jsonrpc: "2.0",
        id: 7,
        error: {
          code: -32003,
          message: `Insufficient scope: ${description}`,
          data: { tool: tool.name, requiredScopes: tool.scopes, missingScopes: tool.scopes },
        },
      });
    },
  );

  it("with its scope: 200 and a tool result", async () => {
    const token = await stack.issuer.sign({ scope: tool.scopes.join(" ") });
    const res = await postMcp(stack.server.url, toolCall(tool.name, tool.args, 9), {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("www-authenticate")).toBeNull();
    const [message] = await rpcMessages(res);
    expect(message).toMatchObject({
      jsonrpc: "2.0",
      id: 9,
      result: { content: [{ type: "text" }] },
    });
  });
});

describe("scope challenge", () => {
  it("asks for only the needed scope when the token holds nothing else", async () => {
    const token = await stack.issuer.sign({ scope: "" });
    const res = await postMcp(
      stack.server.url,
      toolCall("start_task_run", { task: "echo", input: [1] }),
      {
        authorization: `Bearer ${token}`,
      },
    );
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe(
      `Bearer error="insufficient_scope", error_description="start_task_run requires workflows:run; the token lacks workflows:run", scope="workflows:run", resource_metadata="${PRM_URL}"`,
    );
  });

  it("refuses a whole batch when one call lacks its scope, running none of it", async () => {
    const token = await stack.issuer.sign({ scope: "workflows:read" });
    const batch = [
      toolCall("list_task_runs", { task: "echo" }, 1),
      toolCall("start_task_run", { task: "echo", input: ["batch"] }, 2),
    ];
    const res = await postMcp(stack.server.url, batch, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect((await errorBody(res)).id).toBe(2);
    const client = await stack.connect();
    const runs = await client.callTool({ name: "list_task_runs", arguments: { task: "echo" } });
    const echoed = (runs.structuredContent as { runs: { input: unknown }[] }).runs;
    expect(echoed.some((run) => JSON.stringify(run.input) === '["batch"]')).toBe(false);
  });

  it("reads scopes from an scp array claim too", async () => {
    const token = await stack.issuer.sign({ scope: undefined, scp: ["workflows:read"] });
    const res = await postMcp(stack.server.url, toolCall("list_tasks"), {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(200);
  });
});

describe("where a token may come from", () => {
  it("refuses a token in the query string", async () => {
    const token = await stack.issuer.sign();
    const res = await fetch(`${stack.server.url}/mcp?access_token=${token}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(toolCall("whoami")),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer ${challenge()}`);
  });

  it("refuses a non-Bearer Authorization scheme", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami"), {
      authorization: "Basic dXNlcjpwYXNz",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(
      `Bearer ${challenge("invalid_token", "Authorization header must be `Bearer <token>`")}`,
    );
  });
});

function unsignedToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object) => base64url.encode(JSON.stringify(value));
  return `${encode({ alg: "none", typ: "JWT" })}.${encode({
    iss: stack.issuer.issuer,
    aud: RESOURCE,
    sub: "attacker",
    exp: now + 300,
    scope: ALL_SCOPES,
  })}.`;
}

/** The classic key-confusion forgery: HMAC keyed with the issuer's public key. */
async function hs256WithPublicKey(): Promise<string> {
  const jwk = await publicJwkOf(stack.issuer);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: stack.issuer.issuer,
    aud: RESOURCE,
    sub: "attacker",
    scope: ALL_SCOPES,
  })
    .setProtectedHeader({ alg: "HS256", kid: jwk.kid })
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(JSON.stringify(jwk)));
}
