import type { OAuthClientProvider } from "@modelcontextprotocol/client";

type ClientInformation = NonNullable<Awaited<ReturnType<OAuthClientProvider["clientInformation"]>>>;
type Tokens = NonNullable<Awaited<ReturnType<OAuthClientProvider["tokens"]>>>;

/** Where the client says it listens for the redirect; the test reads the code off the redirect instead. */
export const REDIRECT_URI = "http://127.0.0.1/callback";

/**
 * An MCP client's OAuth state, in memory, as a desktop client keeps it.
 * `redirectToAuthorization` only records the URL: the test plays the browser.
 * The same object serves the v2 client and the v1 one (same shape).
 */
export class TestOAuthProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  private client?: ClientInformation;
  private saved?: Tokens;
  private verifier = "";

  constructor(
    private readonly grantTypes: string[] = ["authorization_code"],
    private readonly redirectUri = REDIRECT_URI,
  ) {}

  get redirectUrl() {
    return this.redirectUri;
  }

  get clientMetadata() {
    return {
      client_name: "E2E Test Client",
      // A desktop client with a loopback redirect (MCP 2026-07-28: DCR clients say which kind they are).
      application_type: "native",
      redirect_uris: [this.redirectUri],
      grant_types: this.grantTypes,
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  clientInformation() {
    return this.client;
  }
  saveClientInformation(information: ClientInformation) {
    this.client = information;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: Tokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

export interface ConsentResult {
  /** The consent page's HTML, as a person would see it. */
  page: string;
  /** The consent page's response headers. */
  pageHeaders: Headers;
  /** Where the authorization server finally redirected: the client's redirect URI with code or error. */
  redirect: URL;
}

/**
 * Plays the browser through the development authorization server: follows
 * the authorization URL to the consent page, submits it with the chosen
 * scopes (or a denial), and returns the final redirect to the client.
 */
export async function consent(
  authorizationUrl: URL,
  choice: { scopes?: string[]; deny?: boolean; username?: string } = {},
  redirectUri = REDIRECT_URI,
): Promise<ConsentResult> {
  const jar = new Map<string, string>();
  const go = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
      },
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (pair && eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  };
  const follow = async (res: Response, base: string) => {
    let current = res;
    let url = base;
    while (current.status >= 300 && current.status < 400) {
      url = new URL(current.headers.get("location") as string, url).href;
      if (url.startsWith(redirectUri)) return { url, res: current };
      current = await go(url);
    }
    return { url, res: current };
  };

  const toPage = await follow(await go(authorizationUrl.href), authorizationUrl.href);
  const page = await toPage.res.text();
  if (toPage.res.status !== 200 || !page.includes("<form")) {
    throw new Error(`expected the consent page, got ${toPage.res.status}: ${page.slice(0, 300)}`);
  }
  const action = new URL(/action="([^"]+)"/.exec(page)?.[1] as string, toPage.url).href;
  const requested = [...page.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] as string);
  const form = new URLSearchParams({
    decision: choice.deny ? "deny" : "approve",
    username: choice.username ?? "developer",
  });
  for (const scope of choice.scopes ?? requested) form.append("scope", scope);
  const submitted = await go(action, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const done = await follow(submitted, action);
  if (!done.url.startsWith(redirectUri)) {
    throw new Error(`expected a redirect to the client, got ${done.res.status} at ${done.url}`);
  }
  return { page, pageHeaders: toPage.res.headers, redirect: new URL(done.url) };
}
