import type { Config } from "./config.js";

export interface BannerFacts {
  version: string;
  listening: string;
  issuer: string;
  devAuthorizationServer: boolean;
  backend: string;
  resourceMetadataUrl: string;
}

/** What a person starting the server needs to know, on stderr beside the JSON logs. */
export function banner(config: Config, facts: BannerFacts): string {
  const lines = [
    `workflows-mcp ${facts.version} listening on ${facts.listening}`,
    `  MCP endpoint          ${config.resource}`,
    `  Resource metadata     ${facts.resourceMetadataUrl}`,
    `  Authorization server  ${facts.issuer}${facts.devAuthorizationServer ? "  (embedded development server: loopback only, never in production)" : ""}`,
    `  Workflows             ${facts.backend}`,
  ];
  if (facts.devAuthorizationServer) {
    lines.push(
      "",
      "  Get a token (in another terminal):",
      `    TOKEN=$(npm run -s token -- --server ${config.publicUrl} workflows:read workflows:run workflows:cancel)`,
      "  Call a tool:",
      `    curl -s ${config.resource} -H "Authorization: Bearer $TOKEN" \\`,
      `      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\`,
      `      -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","arguments":{}}}'`,
    );
  }
  return `${lines.join("\n")}\n`;
}
