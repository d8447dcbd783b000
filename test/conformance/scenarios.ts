/**
 * Which server scenarios of the MCP conformance suite (@modelcontextprotocol/conformance
 * 0.1.11, `conformance list --server`) this server is held to, and why the
 * others do not apply. Every listed scenario is in exactly one of the two
 * lists; test/conformance.test.ts fails when the suite adds or drops one.
 */

/**
 * The protocol revisions the suite's checks are written against (its spec
 * references and the versions its initialization check accepts). Its client
 * asks for the newest; the authenticating proxy pins each in turn.
 */
export const PROTOCOL_REVISIONS = ["2025-11-25", "2025-06-18"] as const;

/**
 * Scenarios run on every revision, with the checks each must report, all
 * SUCCESS (no failure, no warning), and whether it opens an MCP session (its
 * requests then carry MCP-Protocol-Version).
 */
export const RUN: Readonly<Record<string, { checks: readonly string[]; opensSession: boolean }>> = {
  "server-initialize": { checks: ["server-initialize"], opensSession: true },
  ping: { checks: ["ping"], opensSession: true },
  "tools-list": { checks: ["tools-list"], opensSession: true },
  "dns-rebinding-protection": {
    checks: ["localhost-host-rebinding-rejected", "localhost-host-valid-accepted"],
    opensSession: false,
  },
};

export const fixtureTool = (tool: string) =>
  `calls the suite's fixture tool ${tool}; the server serves its own workflow tools only`;
export const fixtureResource = (uri: string, verb = "reads") =>
  `${verb} the suite's fixture resource ${uri}; the server offers no resources`;
export const fixturePrompt = (prompt: string) =>
  `gets the suite's fixture prompt ${prompt}; the server offers no prompts`;

/** Scenarios not run, each with the reason. */
export const SKIPPED: Readonly<Record<string, string>> = {
  "logging-set-level":
    "needs the logging capability (logging/setLevel); the server does not declare it",
  "completion-complete":
    "completes an argument of the fixture prompt test_prompt_with_arguments; the server offers no prompts or completions",
  "tools-call-simple-text": fixtureTool("test_simple_text"),
  "tools-call-error": fixtureTool("test_error_handling"),
  "tools-call-image": fixtureTool("test_image_content"),
  "tools-call-audio": fixtureTool("test_audio_content"),
  "tools-call-embedded-resource": fixtureTool("test_embedded_resource"),
  "tools-call-mixed-content": fixtureTool("test_multiple_content_types"),
  "tools-call-with-logging": fixtureTool("test_tool_with_logging"),
  "tools-call-with-progress": fixtureTool("test_tool_with_progress"),
  "tools-call-sampling": fixtureTool("test_sampling"),
  "tools-call-elicitation": fixtureTool("test_elicitation"),
  "json-schema-2020-12": fixtureTool("json_schema_2020_12_tool"),
  "elicitation-sep1034-defaults": fixtureTool("test_elicitation_sep1034_defaults"),
  "elicitation-sep1330-enums": fixtureTool("test_elicitation_sep1330_enums"),
  "server-sse-polling": `${fixtureTool("test_reconnection")}, and resumes a session; the server is stateless`,
  "server-sse-multiple-streams":
    "needs an Mcp-Session-Id; the server is stateless by design, so the scenario stops at its first check with a warning",
  "resources-list": "lists resources; the server offers none",
  "resources-read-text": fixtureResource("test://static-text"),
  "resources-read-binary": fixtureResource("test://static-binary"),
  "resources-templates-read": fixtureResource("test://template/123/data"),
  "resources-subscribe": fixtureResource("test://watched-resource", "subscribes to"),
  "resources-unsubscribe": fixtureResource("test://watched-resource", "subscribes to"),
  "prompts-list": "lists prompts; the server offers none",
  "prompts-get-simple": fixturePrompt("test_simple_prompt"),
  "prompts-get-with-args": fixturePrompt("test_prompt_with_arguments"),
  "prompts-get-embedded-resource": fixturePrompt("test_prompt_with_embedded_resource"),
  "prompts-get-with-image": fixturePrompt("test_prompt_with_image"),
};
