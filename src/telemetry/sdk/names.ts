/**
 * Attribute and metric names: OpenTelemetry's (the GenAI/MCP, HTTP and error
 * conventions) where they have one, ours under `workflows_mcp.` for what they
 * lack. The README's Observability section lists them.
 */

export const Attr = {
  mcpMethod: "mcp.method.name",
  mcpProtocolVersion: "mcp.protocol.version",
  toolName: "gen_ai.tool.name",
  operationName: "gen_ai.operation.name",
  requestId: "jsonrpc.request.id",
  rpcStatusCode: "rpc.response.status_code",
  errorType: "error.type",
  networkTransport: "network.transport",
  networkProtocol: "network.protocol.name",
  httpMethod: "http.request.method",
  httpRoute: "http.route",
  httpStatus: "http.response.status_code",
  httpResendCount: "http.request.resend_count",
  urlFull: "url.full",
  urlTemplate: "url.template",
  serverAddress: "server.address",

  subject: "workflows_mcp.caller.subject",
  clientId: "workflows_mcp.caller.client_id",
  authDecision: "workflows_mcp.auth.decision",
  authReason: "workflows_mcp.auth.reason",
  authorization: "workflows_mcp.authorization.decision",
  missingScopes: "workflows_mcp.authorization.missing_scopes",
  tokenCache: "workflows_mcp.token.cache",
  errorCode: "workflows_mcp.error.code",
  backend: "workflows_mcp.backend",
  task: "workflows_mcp.task",
  runId: "workflows_mcp.run.id",
  runStatus: "workflows_mcp.run.status",
  runState: "workflows_mcp.run.state",
  attempt: "workflows_mcp.attempt",
  attemptOutcome: "workflows_mcp.attempt.outcome",
  refusal: "workflows_mcp.refusal.reason",
  budgetKind: "workflows_mcp.render.budget.kind",
  approvalStatus: "workflows_mcp.approval.status",
} as const;

export const Metric = {
  operationDuration: "mcp.server.operation.duration",
  refused: "workflows_mcp.requests.refused",
  runsStarted: "workflows_mcp.runs.started",
  runsFinished: "workflows_mcp.runs.finished",
  engineRuns: "workflows_mcp.engine.runs",
  renderRequests: "workflows_mcp.render.requests",
  renderBudget: "workflows_mcp.render.budget.remaining",
  tokenVerifications: "workflows_mcp.token.verifications",
  tokenCacheHitRatio: "workflows_mcp.token.cache.hit_ratio",
  approvals: "workflows_mcp.approvals.requests",
} as const;

/** The conventions' bucket boundaries for MCP operation durations, in seconds. */
export const DURATION_BUCKETS = [
  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
] as const;

/** The conventions' value for whatever a bounded attribute does not recognise. */
export const OTHER = "_OTHER";
