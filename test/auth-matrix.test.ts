import { base64url, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicJwkOf } from "./helpers/issuer.js";
import {
  ALL_SCOPES,
  ERAS,
  type Era,
  errorBody,
  PRM_URL,
  postMcp,
  postModern,
  RESOURCE,
  rpcMessages,
  type Stack,
  startStack,
  toolCall,
} from "./helpers/stack.js";

/** Each tool with arguments that pass validation, the scope that allows it and its narrowest need. */
const TOOLS = [
  { name: "whoami", args: {}, needs: undefined, holder: "" },
  { name: "list_tasks", args: {}, needs: "workflows:read", holder: "workflows:read" },
  {
    name: "start_task_run",
    args: { task: "echo", input: ["hi"] },
    needs: "workflows:run:echo",
    holder: "workflows:run:echo",
  },
  {
    name: "get_task_run",
    args: { id: "trn-missing" },
    needs: "workflows:read",
    holder: "workflows:read:all",
  },
  { name: "list_task_runs", args: {}, needs: "workflows:read", holder: "workflows:admin" },
  {
    name: "cancel_task_run",
    args: { id: "trn-missing" },
    needs: "workflows:cancel",
    holder: "workflows:cancel",
  },
  {
    name: "get_task_run_logs",
    args: { id: "trn-missing" },
    needs: "workflows:read",
    holder: "workflows:read",
  },
  {
    name: "list_audit_events",
    args: {},
    needs: "workflows:admin",
    holder: "workflows:admin",
  },
] as const;

/** What would allow each need, narrowest first (the policy's hierarchy). */
const ALLOWED_BY: Record<string, string[]> = {
  "workflows:read": ["workflows:read", "workflows:read:all", "workflows:admin"],
  "workflows:run:echo": ["workflows:run:echo", "workflows:run", "workflows:admin"],
  "workflows:cancel": ["workflows:cancel", "workflows:cancel:all", "workflows:admin"],
  "workflows:admin": ["workflows:admin"],
};

/** The 401 challenge: only the minimal default scope (scope minimization). */
const challenge = (error?: string, description?: string) =>
  [
    ...(error ? [`error="${error}"`, `error_description="${description}"`] : []),
    `scope="workflows:read"`,
    `resource_metadata="${PRM_URL}"`,
  ].join(", ");

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

/** One tools/call as a client of that era sends it. */
function send(era: Era, name: string, args: Record<string, unknown>, id: number, token?: string) {
  const auth: Record<string, string> =
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  return era === "modern"
    ? postModern(stack.server.url, "tools/call", { name, arguments: args }, { id, headers: auth })
    : postMcp(stack.server.url, toolCall(name, args, id), auth);
}

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

describe.each(ERAS)("%s era", (era) => {
  describe.each(TOOLS)("$name", (tool) => {
    it("without a token: 401 with a challenge naming the metadata and the default scope, no error code", async () => {
      const res = await send(era, tool.name, tool.args, 1);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(`Bearer ${challenge()}`);
      expect(await res.json()).toEqual({
        error: "unauthorized",
        error_description: "A bearer token is required in the Authorization header",
      });
    });

    it.runIf(tool.needs !== undefined)(
      "missing its scope: 403 insufficient_scope naming the narrowest scope plus the held ones, nothing runs",
      async () => {
        const held = "workflows:cancel:all";
        const token = await stack.issuer.sign({ scope: held });
        const needs = tool.needs as string;
        const res = await send(era, tool.name, tool.args, 7, token);
        if (tool.name === "cancel_task_run") {
          // cancel:all implies cancel: allowed, so the run id is simply unknown.
          expect(res.status).toBe(200);
          return;
        }
        expect(res.status).toBe(403);
        const allowing = (ALLOWED_BY[needs] as string[]).join(" or ");
        const description = `${tool.name} requires ${allowing}; the token has ${held}`;
        const scope = needs.startsWith("workflows:run:")
          ? `${held} ${needs}`
          : ["workflows:read", "workflows:cancel:all", "workflows:admin"]
              .filter((s) => s === needs || s === held)
              .join(" ");
        expect(res.headers.get("www-authenticate")).toBe(
          `Bearer error="insufficient_scope", error_description="${description}", scope="${scope}", resource_metadata="${PRM_URL}"`,
        );
        expect(await res.json()).toEqual({
          jsonrpc: "2.0",
          id: 7,
          error: {
            code: -32003,
            message: `Insufficient scope: ${description}`,
            data: {
              tool: tool.name,
              missingScopes: [needs],
              allowedBy: { [needs]: ALLOWED_BY[needs] },
              grantedScopes: [held],
            },
          },
        });
      },
    );

    it("with a scope that allows it: 200 and a tool result", async () => {
      const token = await stack.issuer.sign({ scope: tool.holder });
      const res = await send(era, tool.name, tool.args, 9, token);
      expect(res.status).toBe(200);
      expect(res.headers.get("www-authenticate")).toBeNull();
      const messages = await rpcMessages(res);
      expect(messages.at(-1)).toMatchObject({
        jsonrpc: "2.0",
        id: 9,
        result: { content: [{ type: "text" }] },
      });
    });
  });

  describe.each(["whoami", "start_task_run"])("%s with a bad token", (name) => {
    it.each(INVALID)("%s: 401 invalid_token", async (_case, token, description) => {
      const res = await send(era, name, { task: "echo" }, 1, await token());
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(
        `Bearer ${challenge("invalid_token", description)}`,
      );
      expect(await res.json()).toEqual({ error: "invalid_token", error_description: description });
    });
  });

  it("hierarchy: workflows:run allows any task, a per-task scope only its task", async () => {
    const perTask = await stack.issuer.sign({ scope: "workflows:run:add" });
    expect(
      (await send(era, "start_task_run", { task: "add", input: [1, 2] }, 1, perTask)).status,
    ).toBe(200);
    const other = await send(era, "start_task_run", { task: "echo", input: [1] }, 2, perTask);
    expect(other.status).toBe(403);
    expect(other.headers.get("www-authenticate")).toContain(
      'scope="workflows:run:add workflows:run:echo"',
    );
    const any = await stack.issuer.sign({ scope: "workflows:run" });
    expect((await send(era, "start_task_run", { task: "echo", input: [1] }, 3, any)).status).toBe(
      200,
    );
  });

  it("no prefix tricks: workflows:run:ech and workflows:run:echo:x grant nothing for echo", async () => {
    for (const scope of ["workflows:run:ech", "workflows:run:echo:x", "workflows:runs"]) {
      const token = await stack.issuer.sign({ scope });
      const res = await send(era, "start_task_run", { task: "echo", input: [1] }, 1, token);
      expect(res.status).toBe(403);
    }
  });
});

describe("a tool needing two scopes", () => {
  it.each(ERAS)(
    "%s: rerun_task_run with workflows:read only asks for workflows:run too",
    async (era) => {
      const token = await stack.issuer.sign({ scope: "workflows:read" });
      const res = await send(era, "rerun_task_run", { id: "trn-missing" }, 4, token);
      expect(res.status).toBe(403);
      expect(res.headers.get("www-authenticate")).toBe(
        `Bearer error="insufficient_scope", error_description="rerun_task_run requires workflows:run or workflows:admin; the token has workflows:read", scope="workflows:read workflows:run", resource_metadata="${PRM_URL}"`,
      );
      expect((await errorBody(res)).error.data).toEqual({
        tool: "rerun_task_run",
        missingScopes: ["workflows:run"],
        allowedBy: { "workflows:run": ["workflows:run", "workflows:admin"] },
        grantedScopes: ["workflows:read"],
      });
    },
  );
});

describe("batches (2025-03-26 clients)", () => {
  it("refuses a whole batch when one call lacks its scope, running none of it", async () => {
    const token = await stack.issuer.sign({ scope: "workflows:read" });
    const batch = [
      toolCall("list_task_runs", { task: "echo" }, 1),
      toolCall("start_task_run", { task: "echo", input: ["batch"] }, 2),
    ];
    const res = await postMcp(stack.server.url, batch, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect((await errorBody(res)).id).toBe(2);
    const admin = await stack.connect("workflows:admin");
    const runs = await admin.callTool("list_task_runs", { task: "echo", limit: 100 });
    const ids = (runs.structuredContent as { runs: { id: string }[] }).runs.map((r) => r.id);
    for (const id of ids) {
      const run = await admin.callTool("get_task_run", { id });
      expect(
        JSON.stringify((run.structuredContent as { run: { input: unknown } }).run.input),
      ).not.toBe('["batch"]');
    }
  });
});

describe("where scopes are read from", () => {
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

describe("claims an attacker controls are bounded", () => {
  it.each([
    ["iat ten years ahead", { iat: Math.floor(Date.now() / 1000) + 10 * 365 * 86_400 }],
    ["exp a hundred years out", { exp: Math.floor(Date.now() / 1000) + 100 * 365 * 86_400 }],
    ["sub an object", { sub: { a: 1 } }],
    ["sub empty", { sub: "" }],
  ])("%s: 401", async (_case, claims) => {
    const token = await stack.issuer.sign(claims as Record<string, unknown>);
    const res = await postMcp(stack.server.url, toolCall("whoami"), {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
  });

  it("a typ that is not an access token's: 401", async () => {
    const token = await stack.issuer.sign({}, { header: { typ: "dpop+jwt" } });
    const res = await postMcp(stack.server.url, toolCall("whoami"), {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(401);
  });
});

describe("an issuer whose keys cannot be fetched", () => {
  let down: Stack;
  beforeAll(async () => {
    down = await startStack({}, { beforeServer: (issuer) => issuer.setJwksMode("error") });
  });
  afterAll(() => down?.close());

  it("a deploy that never got its keys is not healthy", async () => {
    const res = await fetch(`${down.server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "unavailable" });
  });

  it("a valid token gets 503 with Retry-After, never 401, and no internals", async () => {
    const token = await down.issuer.sign();
    const res = await postMcp(down.server.url, toolCall("whoami"), {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({
      error: "temporarily_unavailable",
      error_description: "The authorization server is unavailable; try again later",
    });
    expect(body).not.toContain("127.0.0.1");
    expect(body).not.toContain("jwks");
  });

  it("once keys were loaded, an outage of the issuer keeps the instance healthy and tokens working", async () => {
    const token = await stack.issuer.sign();
    stack.issuer.setJwksMode("error");
    try {
      const health = await fetch(`${stack.server.url}/healthz`);
      expect(health.status).toBe(200);
      const res = await postMcp(stack.server.url, toolCall("whoami"), {
        authorization: `Bearer ${token}`,
      });
      expect(res.status).toBe(200);
    } finally {
      stack.issuer.setJwksMode("ok");
    }
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
