import { z } from "zod";
import { Principal, type TaskInput } from "../workflows/run.js";

/** An approval request's life: pending until decided (approved, denied), withdrawn (canceled) or expired. */
export const ApprovalStatus = z.enum(["pending", "approved", "denied", "expired", "canceled"]);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

const Person = Principal.extend({
  clientId: z.string().optional().describe("The OAuth client they used, where the token names one"),
});

/** An approval request as clients see it: never its input, which may hold secrets. */
export const Approval = z
  .object({
    id: z.string().describe("apr-…: also the task id for Tasks clients"),
    status: ApprovalStatus,
    task: z.string().describe("The task, as named in per-task scopes"),
    mode: z
      .enum(["approver", "self"])
      .describe(
        "approver: someone else holding workflows:approve[:<task>] decides; self: the person who asked confirms in a browser",
      ),
    requestedBy: Person.describe("Who asked, from their verified token"),
    createdAt: z.string(),
    expiresAt: z.string().describe("When an undecided request expires; it never runs then"),
    url: z.string().describe("The approval page: where a person decides"),
    decidedBy: Person.optional(),
    decidedAt: z.string().optional(),
    reason: z.string().optional(),
    runId: z.string().optional().describe("The run an approval started"),
  })
  .describe("A request for a person's approval of a run");
export type Approval = z.infer<typeof Approval>;
export type Person = z.infer<typeof Person>;

/** An approval request as stored: what clients see, and what only the server and the page read. */
export interface ApprovalRecord extends Omit<Approval, "url"> {
  /** The reference the start named (on Render it may carry the workflow and a version): what is started. */
  taskRef: string;
  input: TaskInput;
}

export const APPROVAL_ID_PREFIX = "apr-";
export const isApprovalId = (id: string): boolean => id.startsWith(APPROVAL_ID_PREFIX);
