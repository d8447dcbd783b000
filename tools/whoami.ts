import { z } from "zod";
import { defineTool } from "../src/mcp/tool.js";

export default defineTool({
  name: "whoami",
  title: "Who am I",
  description:
    "Shows who the server sees calling: subject, client, issuer, granted scopes, token expiry, and which tools those scopes allow.",
  scopes: [],
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  input: {},
  output: {
    subject: z.string(),
    clientId: z.string(),
    issuer: z.string(),
    scopes: z.array(z.string()),
    expiresAt: z.string().optional().describe("ISO 8601"),
    allowedTools: z.array(z.string()),
    deniedTools: z.array(z.object({ name: z.string(), missingScopes: z.array(z.string()) })),
  },
  async handler(_input, { caller, catalogue }) {
    const denied = catalogue
      .map(({ name, scopes }) => ({
        name,
        missingScopes: scopes.filter((s) => !caller.scopes.includes(s)),
      }))
      .filter((tool) => tool.missingScopes.length > 0);
    const allowed = catalogue
      .map((t) => t.name)
      .filter((name) => !denied.some((d) => d.name === name));
    const expiresAt = caller.expiresAt
      ? new Date(caller.expiresAt * 1000).toISOString()
      : undefined;
    return {
      structuredContent: {
        subject: caller.subject,
        clientId: caller.clientId,
        issuer: caller.issuer,
        scopes: caller.scopes,
        expiresAt,
        allowedTools: allowed,
        deniedTools: denied,
      },
      text: `${caller.subject} via client ${caller.clientId || "(unknown)"}; scopes: ${caller.scopes.join(" ") || "(none)"}; allowed tools: ${allowed.join(", ")}`,
    };
  },
});
