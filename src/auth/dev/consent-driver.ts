/**
 * Plays a person's browser through the development authorization server's
 * consent page: follows the authorization request to the page, submits it
 * as a user with the chosen scopes (or denies), and returns the redirect to
 * the client. The server has no passwords (a person types any name), so the
 * token command can do exactly what a person does; tests use it too.
 */

/** Redirects followed before giving up (authorization → login/consent → back to the client). */
const MAX_REDIRECTS = 10;

export interface ConsentChoice {
  /** The scopes to approve; default: every scope the page asks for. */
  scopes?: string[];
  deny?: boolean;
  /** The name the token's `sub` will carry; default `developer`. */
  username?: string;
}

export interface ConsentOutcome {
  /** The consent page's HTML, as a person would see it. */
  page: string;
  /** The consent page's response headers. */
  pageHeaders: Headers;
  /** Where the authorization server finally sent the browser: the redirect URI with `code` (or `error`) and `iss`. */
  redirect: URL;
}

export async function consentAs(
  authorizationUrl: URL,
  redirectUri: string,
  choice: ConsentChoice = {},
): Promise<ConsentOutcome> {
  const jar = new Map<string, string>();
  const go = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join("; "),
      },
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (pair && eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  };
  /** Follows redirects until a page, or until the browser would leave for the client's redirect URI. */
  const follow = async (first: Response, from: string) => {
    let res = first;
    let url = from;
    for (let hop = 0; res.status >= 300 && res.status < 400; hop++) {
      if (hop === MAX_REDIRECTS)
        throw new Error(`more than ${MAX_REDIRECTS} redirects from ${from}`);
      url = new URL(res.headers.get("location") ?? "", url).href;
      if (url.startsWith(redirectUri)) return { url, res };
      await res.body?.cancel();
      res = await go(url);
    }
    return { url, res };
  };

  const toPage = await follow(await go(authorizationUrl.href), authorizationUrl.href);
  if (toPage.url.startsWith(redirectUri)) {
    // Refused before any page (an unknown scope, say): the redirect carries the error.
    return { page: "", pageHeaders: toPage.res.headers, redirect: new URL(toPage.url) };
  }
  const page = await toPage.res.text();
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  if (toPage.res.status !== 200 || action === undefined) {
    throw new Error(
      `expected the consent page, got HTTP ${toPage.res.status}: ${page.slice(0, 300)}`,
    );
  }
  const actionUrl = new URL(action.replaceAll("&amp;", "&"), toPage.url).href;
  const requested = [...page.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] as string);
  const form = new URLSearchParams({
    decision: choice.deny ? "deny" : "approve",
    username: choice.username ?? "developer",
  });
  for (const scope of choice.scopes ?? requested) form.append("scope", scope);
  const submitted = await go(actionUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const done = await follow(submitted, actionUrl);
  if (!done.url.startsWith(redirectUri)) {
    throw new Error(
      `expected a redirect to the client, got HTTP ${done.res.status} at ${done.url}`,
    );
  }
  return { page, pageHeaders: toPage.res.headers, redirect: new URL(done.url) };
}
