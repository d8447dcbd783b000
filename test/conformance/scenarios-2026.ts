import { fixtureTool, SKIPPED as SKIPPED_0_1 } from "./scenarios.js";

/**
 * Which server scenarios of the MCP conformance suite's 0.2 line
 * (`conformance-2026` = @modelcontextprotocol/conformance@0.2.0-alpha.12,
 * `conformance list --server`) this server is held to, at which protocol
 * revision, and why the others are not run. test/conformance-2026.test.ts
 * fails when the suite adds or drops a scenario, or when a scenario starts or
 * stops applying to a revision, until this file says what to do with it.
 *
 * 0.2 runs each scenario at one revision's wire: 2026-07-28 is stateless
 * (no initialize; `_meta` and the MCP-Protocol-Version, Mcp-Method and
 * Mcp-Name headers on every request), the 2025 revisions are the stateful
 * initialize handshake. Extension scenarios (the Tasks extension, SEP-2663;
 * Skills, SEP-2640) are off the spec timeline and run at the 2026-07-28 wire
 * (`--force`), the only revision they extend.
 *
 * Most scenarios call the suite's own fixture tools, prompts and resources
 * (its "everything server"). A scenario that does nothing else is skipped
 * below with its reason. A scenario that also checks things any server must
 * do is run, and every one of its checks is pinned: the ones about this server
 * must be SUCCESS (or the suite's INFO), and each one that cannot be exercised
 * here is pinned with the exact status and message the suite reports and the
 * reason (`because`) — so a check that starts failing for another reason, or
 * starts passing, fails the test.
 */

export const REVISION_2026 = "2026-07-28";
/** The 2025-era revisions the server also serves (as test/conformance/scenarios.ts). */
export const REVISIONS_2025 = ["2025-11-25", "2025-06-18"] as const;
export const REVISIONS = [REVISION_2026, ...REVISIONS_2025] as const;
export type Revision = (typeof REVISIONS)[number];

/** A check as the suite reports it; `because` says why it is not SUCCESS. */
export interface ExpectedCheck {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  because?: string;
}

export interface ScenarioExpectation {
  /** Every check the scenario reports, in order. */
  checks: readonly ExpectedCheck[];
  /**
   * 2025 revisions: the scenario's requests carry MCP-Protocol-Version (after
   * initialize, the client sends the revision the server answered).
   */
  versionHeader?: boolean;
}

const pass = (id: string): ExpectedCheck => ({ id, status: "SUCCESS" });
/** The suite validates every message the server sent against the revision's JSON schema. */
const WIRE_SCHEMA = pass("wire-schema-valid");

const NO_FIXTURE =
  "needs a fixture tool of the suite's everything server; the server serves its own workflow tools only";
/** A check the suite could not exercise because a fixture tool is missing. */
const untestable = (id: string, errorMessage: string, because = NO_FIXTURE): ExpectedCheck => ({
  id,
  status: "FAILURE",
  errorMessage,
  because,
});
const toolNotFound = (id: string, tool: string) => untestable(id, `Tool ${tool} not found`);

/** Scenarios run at 2026-07-28, with every check each reports. */
const RUN_2026: Readonly<Record<string, ScenarioExpectation>> = {
  "server-stateless": {
    checks: [
      pass("sep-2575-request-meta-invalid-missing-meta"),
      pass("sep-2575-http-server-meta-invalid-400"),
      pass("sep-2575-request-meta-invalid-missing-protocol-version"),
      pass("sep-2575-http-server-meta-invalid-400"),
      pass("sep-2575-request-meta-invalid-missing-client-capabilities"),
      pass("sep-2575-http-server-meta-invalid-400"),
      pass("sep-2575-request-meta-client-info-optional"),
      pass("sep-2575-server-implements-discover"),
      pass("sep-2575-server-identifies-in-result-meta"),
      pass("sep-2575-server-declares-prompts-in-discover"),
      pass("sep-2575-discover-capabilities-match-handlers"),
      pass("sep-2575-server-unsupported-version-error"),
      pass("sep-2575-http-server-unsupported-version-400"),
      pass("sep-2575-http-server-header-mismatch-400"),
      untestable(
        "sep-2575-server-rejects-undeclared-capability",
        "Not testable: server does not list the diagnostic tool 'test_missing_capability' in tools/list and the probe call did not exercise it (required for the undeclared-capability rejection)",
      ),
      untestable(
        "sep-2575-missing-capability-http-400",
        "Not testable: server does not list the diagnostic tool 'test_missing_capability' in tools/list, so the -32021 HTTP status could not be validated",
        `${NO_FIXTURE} (test/protocol.test.ts covers -32021 on the task methods)`,
      ),
      pass("sep-2575-http-server-method-not-found-404-initialize"),
      pass("sep-2575-http-server-method-not-found-404-ping"),
      pass("sep-2575-http-server-method-not-found-404-logging-setlevel"),
      pass("sep-2575-http-server-method-not-found-404-resources-subscribe"),
      pass("sep-2575-http-server-method-not-found-404-resources-unsubscribe"),
      pass("sep-2575-http-server-method-not-found-404"),
      untestable(
        "sep-2575-http-server-no-independent-requests-on-stream",
        "Not testable: server does not list the diagnostic tool 'test_streaming_elicitation' in tools/list, so the response stream could not be exercised",
      ),
      untestable(
        "sep-2575-server-no-log-without-loglevel",
        "Not testable: server does not list the diagnostic tool 'test_logging_tool' in tools/list, so the no-log-without-logLevel requirement could not be exercised",
      ),
      pass("sep-2575-server-sends-subscription-ack"),
      pass("sep-2575-server-tags-subscription-id"),
      pass("sep-2575-server-honors-notification-filter"),
      {
        id: "sep-2575-server-sends-prompts-list-changed-on-subscription",
        status: "SKIPPED",
        because: "the server offers no prompts, so it has no prompts/list_changed to send",
      },
      {
        id: "sep-2575-server-sends-tools-list-changed-on-subscription",
        status: "SKIPPED",
        because: "the tool list never changes, so the server declares no tools.listChanged",
      },
      pass("sep-2575-http-server-error-jsonrpc-id"),
    ],
  },
  "tools-list": {
    checks: [
      pass("tools-list"),
      pass("tools-name-format"),
      pass("tools-list-deterministic-order"),
      WIRE_SCHEMA,
    ],
  },
  "server-sse-multiple-streams": {
    checks: [
      pass("server-accepts-multiple-post-streams"),
      {
        id: "server-sse-streams-functional",
        status: "INFO",
        because: "every answer is a single JSON body (SSE streams are optional)",
      },
    ],
  },
  "dns-rebinding-protection": {
    checks: [pass("localhost-host-rebinding-rejected"), pass("localhost-host-valid-accepted")],
  },
  caching: {
    checks: [
      pass("sep-2549-tools-list-caching-hints"),
      ...["prompts/list", "resources/list", "resources/templates/list"].map((method) =>
        untestable(
          `sep-2549-${method.replaceAll("/", "-")}-caching-hints`,
          `${method} returned JSON-RPC error -32601: Method not found`,
          "the scenario assumes the everything server's prompts and resources; the server offers none and declares neither capability, so -32601 is the right answer",
        ),
      ),
      {
        id: "sep-2549-resources-read-caching-hints",
        status: "SKIPPED",
        errorMessage:
          "resources/read was not exercised: resources/list failed or returned no resources.",
        because: "the server offers no resources",
      },
      pass("sep-2549-ttl-non-negative"),
      pass("sep-2549-cache-scope-valid"),
      WIRE_SCHEMA,
    ],
  },
  "http-header-validation": {
    checks: [
      ...Array.from({ length: 3 }, () => [
        pass("sep-2243-server-reject-invalid-headers"),
        pass("sep-2243-server-reject-error-code"),
      ]).flat(),
      pass("sep-2243-server-accepts-whitespace-header-value"),
      pass("sep-2243-server-reject-invalid-headers"),
      pass("sep-2243-server-reject-error-code"),
      pass("sep-2243-header-name-case-insensitive"),
      pass("sep-2243-header-name-case-insensitive"),
      pass("sep-2243-server-reject-invalid-headers"),
      pass("sep-2243-server-reject-error-code"),
      WIRE_SCHEMA,
    ],
  },
  "input-required-result-unsupported-methods": {
    checks: [pass("sep-2322-not-on-unsupported-requests"), WIRE_SCHEMA],
  },
  "tasks-capability-negotiation": {
    checks: [
      pass("tasks-extension-advertised"),
      pass("sep-2663-tasks-methods-non-declaring"),
      toolNotFound("sep-2663-server-rejects-undeclared-client", "slow_compute"),
      toolNotFound("tasks-per-request-meta-opt-in", "slow_compute"),
      WIRE_SCHEMA,
    ],
  },
  "tasks-request-headers": {
    checks: [
      toolNotFound("tasks-headers-tolerate-mcp-method-on-tools-call", "greet"),
      toolNotFound("sep-2663-routing-headers-accepted-on-tasks-get", "slow_compute"),
      pass("tasks-headers-reject-mismatched-method"),
      untestable(
        "sep-2663-server-rejects-mismatched-mcp-name-on-tasks-get",
        "routing-task fixture from Check 2 unavailable; cannot drive negative-path probe",
        `${NO_FIXTURE} (test/protocol.test.ts: "Mcp-Name must name the task the body names")`,
      ),
      WIRE_SCHEMA,
    ],
  },
  "tasks-dispatch-and-envelope": {
    checks: [
      pass("sep-2663-tasks-result-removed-method-not-found"),
      pass("tasks-removed-tasks-list"),
      toolNotFound("tasks-server-directed-creation-no-hint", "failing_job"),
      toolNotFound("sep-2663-legacy-task-param-ignored", "greet"),
      toolNotFound("tasks-immediate-result-shortcut", "slow_compute"),
      toolNotFound("tasks-result-type-complete-on-non-task-responses", "greet"),
      toolNotFound("sep-2663-durable-create-strong-consistency", "slow_compute"),
      pass("sep-2663-tasks-get-invalid-task-id-32602"),
      WIRE_SCHEMA,
    ],
  },
};

/** The 2025-era scenarios, as test/conformance/scenarios.ts runs them with the 0.1 suite. */
const initialize = (extra: ExpectedCheck[] = []): ScenarioExpectation => ({
  checks: [
    pass("server-initialize"),
    {
      id: "server-session-id-visible-ascii",
      status: "INFO",
      because: "the server is stateless: there is no Mcp-Session-Id to check",
    },
    ...extra,
    WIRE_SCHEMA,
  ],
  versionHeader: true,
});

export const RUN: Readonly<Record<Revision, Readonly<Record<string, ScenarioExpectation>>>> = {
  "2026-07-28": RUN_2026,
  "2025-11-25": {
    "server-initialize": initialize(),
    ping: { checks: [pass("ping"), WIRE_SCHEMA], versionHeader: true },
    "tools-list": {
      checks: [pass("tools-list"), pass("tools-name-format"), WIRE_SCHEMA],
      versionHeader: true,
    },
    "dns-rebinding-protection": {
      checks: [pass("localhost-host-rebinding-rejected"), pass("localhost-host-valid-accepted")],
      versionHeader: true,
    },
  },
  "2025-06-18": {
    "server-initialize": initialize(),
    ping: { checks: [pass("ping"), WIRE_SCHEMA], versionHeader: true },
    "tools-list": { checks: [pass("tools-list"), WIRE_SCHEMA], versionHeader: true },
  },
};

const fixtureTools = (tools: string[]) =>
  `calls the suite's fixture tools ${tools.join(", ")}; the server serves its own workflow tools only`;
const inputRequired = (tool: string) =>
  `calls the suite's fixture tool ${tool}, which answers with an InputRequiredResult (SEP-2322); the server's tools never ask the client for input`;

/**
 * Scenarios not run (at any revision they apply to, except where RUN lists
 * them), each with the reason.
 */
export const SKIPPED: Readonly<Record<string, string>> = {
  // Every scenario the 0.1 suite skips, for the same reasons (it knows them all too).
  ...SKIPPED_0_1,
  "server-session-lifecycle":
    "exercises the Mcp-Session-Id lifecycle; the server is stateless by design, so the scenario only reports that it skipped (INFO)",
  "server-sse-multiple-streams":
    "at 2025-11-25: needs an Mcp-Session-Id; the server is stateless by design, so the scenario stops at its first check with a warning (it runs at 2026-07-28)",
  "sep-2164-resource-not-found":
    "reads a resource that does not exist and expects -32602; the server offers no resources and declares no resources capability, so resources/read is -32601 Method not found",
  "sep-2640-skills-directory":
    "the Skills extension (SEP-2640); the server does not offer it, and the suite skips every check",
  "sep-2640-skills-enumeration":
    "the Skills extension (SEP-2640); the server does not offer it, and the suite skips every check",
  "sep-2640-skills-manifest":
    "the Skills extension (SEP-2640); the server does not offer it, and the suite skips every check",
  "http-custom-header-server-validation":
    "needs a tool whose input schema carries x-mcp-header annotations (SEP-2243 custom headers); the server's tools have none",
  "tasks-lifecycle": `${fixtureTools(["greet", "slow_compute", "failing_job", "protocol_error_job"])} (test/tasks-client.test.ts and test/protocol.test.ts drive the same lifecycle with start_task_run)`,
  "tasks-wire-fields": fixtureTool("slow_compute"),
  "tasks-request-state-removal": fixtureTool("slow_compute"),
  "tasks-mrtr-input": `${fixtureTools(["confirm_delete", "multi_input"])}, which ask for input mid-task; a run never does`,
  "tasks-mrtr-composition": `${fixtureTool("test_tool_with_task")}, which asks for input before creating its task; a run never does`,
  "tasks-status-notifications":
    "the suite skips it itself (its harness awaits a rewrite for the subscriptions/listen channel)",
  "tasks-required-task-error": `${fixtureTool("failing_job")}, registered as requiring a task; no tool of the server requires one (start_task_run answers plainly to a client without the extension)`,
  "input-required-result-basic-elicitation": inputRequired(
    "test_input_required_result_elicitation",
  ),
  "input-required-result-basic-sampling": inputRequired("test_input_required_result_sampling"),
  "input-required-result-basic-list-roots": inputRequired("test_input_required_result_list_roots"),
  "input-required-result-request-state": inputRequired("test_input_required_result_request_state"),
  "input-required-result-multiple-input-requests": inputRequired(
    "test_input_required_result_multiple_inputs",
  ),
  "input-required-result-multi-round": inputRequired("test_input_required_result_multi_round"),
  "input-required-result-missing-input-response": inputRequired(
    "test_input_required_result_elicitation",
  ),
  "input-required-result-non-tool-request":
    "gets the fixture prompt test_input_required_result_prompt, which asks for input; the server offers no prompts",
  "input-required-result-result-type": inputRequired("test_input_required_result_elicitation"),
  "input-required-result-tampered-state": inputRequired(
    "test_input_required_result_tampered_state",
  ),
  "input-required-result-capability-check": inputRequired(
    "test_input_required_result_capabilities",
  ),
  "input-required-result-ignore-extra-params": inputRequired(
    "test_input_required_result_elicitation",
  ),
  "input-required-result-validate-input": `${inputRequired("test_input_required_result_elicitation")}; against this server it would pass only because the tool is not found`,
};
