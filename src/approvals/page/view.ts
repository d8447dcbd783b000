import { approveScopeFor } from "../../auth/policy.js";
import type { TaskInput } from "../../workflows/run.js";
import type { Approval } from "../approval.js";
import { escapeHtml, layout } from "./html.js";

/** The input shown, at most: a page must stay readable (and bounded) whatever a task takes. */
export const MAX_INPUT_SHOWN = 65_536;
/** The longest reason a decision may give (the form and the server both hold to it). */
export const MAX_REASON = 1_000;

export interface ApprovalPageModel {
  approval: Approval;
  input: TaskInput;
  /** Who is signed in. */
  person: { subject: string; issuer: string };
  /** Present when the person may decide it now: the form's target and CSRF token. */
  form?: { action: string; csrf: string };
  /** Where signing in again (as someone else) starts. */
  switchUrl: string;
}

/** The input pretty-printed, cut to its first 64 KB with a note saying so. */
export function shownInput(input: TaskInput): { text: string; note?: string } {
  const text = JSON.stringify(input, null, 2) ?? "null";
  if (text.length <= MAX_INPUT_SHOWN) return { text };
  return {
    text: text.slice(0, MAX_INPUT_SHOWN),
    note: `Cut: the first ${MAX_INPUT_SHOWN.toLocaleString("en")} of ${text.length.toLocaleString("en")} characters are shown; the run gets the whole input.`,
  };
}

const row = (label: string, value: string | undefined, id: string) =>
  value === undefined
    ? ""
    : `<dt>${escapeHtml(label)}</dt><dd id="${id}">${escapeHtml(value)}</dd>`;

function modeText(approval: Approval): string {
  return approval.mode === "self"
    ? `self: ${approval.requestedBy.subject}, who asked, confirms it signed in as themselves`
    : `approver: someone other than ${approval.requestedBy.subject} holding ${approveScopeFor(approval.task)} (or workflows:approve) decides it`;
}

/** What happens next, for a request no one here can decide right now. */
function waitingNote(model: ApprovalPageModel): string {
  const { approval } = model;
  if (approval.status === "approved" && !approval.runId) {
    return "Approved; the run has not started yet. It is retried automatically.";
  }
  if (approval.status === "expired") {
    return "This request expired undecided: it never runs. Starting the task again makes a new request.";
  }
  if (approval.status === "canceled")
    return "The person who asked withdrew this request: it never runs.";
  if (approval.status !== "pending") return "This request is decided; decisions are final.";
  return approval.mode === "self"
    ? `Waiting for ${approval.requestedBy.subject} to confirm it here.`
    : `Waiting for someone other than ${approval.requestedBy.subject} holding ${approveScopeFor(approval.task)} to decide it. Nothing runs until then.`;
}

function decisionForm(model: ApprovalPageModel, form: NonNullable<ApprovalPageModel["form"]>) {
  const self = model.approval.mode === "self";
  return `<h2>Your decision</h2>
<form method="post" action="${escapeHtml(form.action)}">
  <input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">
  <label>Reason (optional)
    <textarea name="reason" maxlength="${MAX_REASON}"></textarea>
  </label>
  <div class="actions">
    <button type="submit" name="decision" value="deny" id="deny">${self ? "Refuse" : "Deny"}</button>
    <button type="submit" name="decision" value="approve" id="approve" class="primary">${self ? "Confirm this run" : "Approve"}</button>
  </div>
</form>`;
}

/** The approval page: the request, its input, its status, and the decision form for who may decide it. */
export function approvalPage(model: ApprovalPageModel): string {
  const { approval } = model;
  const input = shownInput(model.input);
  const decided = approval.decidedBy
    ? `${approval.decidedBy.subject}${approval.decidedBy.clientId ? ` (client ${approval.decidedBy.clientId})` : ""}`
    : undefined;
  return layout(
    `Approval request for ${approval.task}`,
    `<h1>A run of <code id="task">${escapeHtml(approval.task)}</code> needs ${approval.mode === "self" ? "confirmation" : "approval"}</h1>
<p><span class="status ${approval.status}" id="status">${approval.status}</span></p>
<dl>
  ${[
    row("Request", approval.id, "id"),
    row("Mode", modeText(approval), "mode"),
    row("Requested by", approval.requestedBy.subject, "requester"),
    row("Client", approval.requestedBy.clientId, "client"),
    row("Issuer", approval.requestedBy.issuer, "issuer"),
    row("Created", approval.createdAt, "created"),
    row(approval.status === "expired" ? "Expired" : "Expires", approval.expiresAt, "expires"),
    row("Decided by", decided, "decided-by"),
    row("Decided at", approval.decidedAt, "decided-at"),
    row("Reason", approval.reason, "reason"),
    row("Run", approval.runId, "run"),
  ]
    .filter(Boolean)
    .join("\n  ")}
</dl>
<h2>Input</h2>
<pre id="input">${escapeHtml(input.text)}</pre>${input.note ? `\n<p class="note" id="input-note">${escapeHtml(input.note)}</p>` : ""}
${model.form ? decisionForm(model, model.form) : `<p class="note" id="next">${escapeHtml(waitingNote(model))}</p>`}
<p class="who">Signed in as <strong id="person">${escapeHtml(model.person.subject)}</strong> at ${escapeHtml(model.person.issuer)} · <a href="${escapeHtml(model.switchUrl)}" id="switch">Sign in as someone else</a></p>`,
  );
}
