import type { StandardSchemaWithJSON, ToolAnnotations } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { ApprovalPolicy } from "../approvals/policy.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { describeRequirement, requirementLabel } from "./requirements.js";
import { sdkSchema } from "./schema.js";
import type { BackendNotes, ToolDefinition } from "./tool.js";
import { worded } from "./wording.js";

/** `_meta` key under which each tool lists the scopes it requires in tools/list. */
const REQUIRED_SCOPES_META = "requiredScopes";

/** A tool ready to register: everything that does not depend on the request, computed once at start. */
export interface CatalogueEntry {
  definition: ToolDefinition;
  /** Validates arguments (src/mcp/call.ts). */
  input: z.ZodObject<z.ZodRawShape>;
  registration: {
    title: string;
    description: string;
    inputSchema: StandardSchemaWithJSON;
    outputSchema: StandardSchemaWithJSON;
    annotations: ToolAnnotations;
    _meta: Record<string, unknown>;
  };
}

export interface Catalogue {
  entries: readonly CatalogueEntry[];
  byName: ReadonlyMap<string, ToolDefinition>;
  /** Every tool and what it requires (for whoami and the gate). */
  requirements: readonly { name: string; requires: ToolDefinition["requires"] }[];
}

export function buildCatalogue(
  tools: readonly ToolDefinition[],
  backend: Pick<WorkflowBackend, "listingNote">,
  approvals?: Pick<ApprovalPolicy, "describe" | "any">,
): Catalogue {
  const approvalNote = approvals?.describe();
  const notes: BackendNotes = {
    ...(backend.listingNote ? { listing: worded(backend.listingNote) } : {}),
    ...(approvalNote ? { approvals: approvalNote } : {}),
  };
  const byName = new Map<string, ToolDefinition>();
  const served = tools.filter((tool) => tool.feature !== "approvals" || approvals?.any);
  for (const tool of served) {
    if (byName.has(tool.name)) throw new Error(`two tools are named ${tool.name}`);
    byName.set(tool.name, tool);
  }
  const entries = served.map((definition): CatalogueEntry => {
    const input = z.object(definition.input);
    const note = definition.noteFrom?.(notes);
    return {
      definition,
      input,
      registration: {
        title: definition.title,
        description: `${definition.description}${note ? ` ${note}` : ""}\n\n${describeRequirement(definition.requires)}`,
        inputSchema: sdkSchema(input, { validate: false }),
        outputSchema: sdkSchema(z.object(definition.output), { validate: true }),
        annotations: { title: definition.title, ...definition.annotations },
        _meta: { [REQUIRED_SCOPES_META]: requirementLabel(definition.requires) },
      },
    };
  });
  return {
    entries,
    byName,
    requirements: served.map(({ name, requires }) => ({ name, requires })),
  };
}
