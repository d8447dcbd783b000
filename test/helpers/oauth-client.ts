import type { OAuthClientProvider } from "@modelcontextprotocol/client";
import {
  type ConsentChoice,
  type ConsentOutcome,
  consentAs,
} from "../../src/auth/dev/consent-driver.js";

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

export type ConsentResult = ConsentOutcome;

/**
 * Plays the browser through the development authorization server (the same
 * driver the token command uses): the consent page, submitted with the
 * chosen scopes (or a denial), and the final redirect to the client.
 */
export function consent(
  authorizationUrl: URL,
  choice: ConsentChoice = {},
  redirectUri = REDIRECT_URI,
): Promise<ConsentResult> {
  return consentAs(authorizationUrl, redirectUri, choice);
}
