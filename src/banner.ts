import { callbackUrls, pageClient } from "./approvals/page/client.js";
import {
  APPROVE_SCOPE_PREFIX,
  DEFAULT_SCOPES,
  FIXED_SCOPES,
  SCOPES,
  TASK_SCOPE_PREFIX,
} from "./auth/scopes.js";
import type { VerifierHealth } from "./auth/verifier.js";
import type { Config } from "./config.js";

export interface BannerFacts {
  version: string;
  listening: string;
  issuer: string;
  devAuthorizationServer: boolean;
  backend: string;
  store: string;
  limits: string;
  /** What OpenTelemetry exports, or `off`. */
  telemetry: string;
  health: VerifierHealth;
  /** Why the issuer's keys could not be fetched yet, and the setting to check. */
  keysFailure?: string | undefined;
  resourceMetadataUrl: string;
}

/** What a person starting the server needs to know, on stderr beside the JSON logs. */
export function banner(config: Config, facts: BannerFacts): string {
  // The first line is the URL to give an MCP client (not the address bound, 0.0.0.0 say).
  const lines = [
    `workflows-mcp ${facts.version}: connect MCP clients to ${config.resource}`,
    `  Protocol              MCP 2026-07-28; 2025-11-25 and 2025-06-18 clients too`,
    `  Listening on          ${facts.listening}${config.loopbackResources ? "   (localhost, 127.0.0.1 and [::1] each answered as itself)" : ""}`,
    `  Resource metadata     ${facts.resourceMetadataUrl}`,
    `  Authorization server  ${facts.issuer}${facts.devAuthorizationServer ? "  (embedded development server: in-memory, loopback only, never in production)" : ""}`,
    `  Issuer keys           ${facts.health.ready ? "loaded" : `not loaded yet: /healthz answers 503 until they are (${facts.keysFailure ?? facts.health.detail})`}`,
    `  Workflows             ${facts.backend}`,
    `  Owners and audit      ${facts.store}`,
    `  Limits                ${facts.limits}`,
    ...(config.approvals
      ? [
          `  Approvals             ${config.approvals.policy.describe()} Requests expire after ${config.approvals.ttlMinutes} min; pages at ${config.publicUrl}/approvals/<id>${config.approvals.webhookUrl ? "; announced to APPROVAL_WEBHOOK_URL" : ""}`,
          `  Approval page         signs people in at the issuer as client ${pageClient(config).clientId}, redirect URI ${callbackUrls(config)[0]}${config.loopbackResources ? " (and each loopback name's)" : ""}`,
        ]
      : []),
    `  Telemetry             ${facts.telemetry}`,
    "  Scopes",
    ...FIXED_SCOPES.map((scope) => `    ${scope.padEnd(26)}${SCOPES[scope].grants}`),
    `    ${`${TASK_SCOPE_PREFIX}<task>`.padEnd(26)}Start runs of that one task`,
    `    ${`${APPROVE_SCOPE_PREFIX}<task>`.padEnd(26)}Decide approval requests for runs of that one task`,
  ];
  if (facts.devAuthorizationServer) {
    lines.push("");
    if (process.versions.node.startsWith("20.")) {
      lines.push(
        `  Node ${process.versions.node}: oidc-provider's "Unsupported runtime" warning above is expected (explained just before it); Node 22 is recommended.`,
      );
    }
    lines.push(
      "  Get a token (in another terminal):",
      `    TOKEN=$(npm run -s token -- --server ${config.publicUrl} workflows:read workflows:run workflows:cancel)`,
      "  Call a tool:",
      `    curl -s ${config.resource} -H "Authorization: Bearer $TOKEN" \\`,
      `      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\`,
      `      -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","arguments":{}}}'`,
      `  (A client that authorizes itself asks for ${DEFAULT_SCOPES.join(" ")} first, and for more when a call needs it.)`,
    );
  }
  return `${lines.join("\n")}\n`;
}
