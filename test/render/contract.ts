import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import formats from "ajv-formats";
import { parse } from "yaml";

/**
 * Render's published OpenAPI documents (vendored in ./openapi, see its
 * README) as validators, so the fake API serves nothing Render's contract
 * does not allow.
 */

const OPENAPI = new URL("./openapi/", import.meta.url);
const DOCUMENTS = [
  "render-workflows-beta-api-openapi.yml",
  "render-workflow-tasks-beta-api-openapi.yml",
].map((name) => parse(readFileSync(fileURLToPath(new URL(name, OPENAPI)), "utf8")) as OpenApi);

type Json = Record<string, unknown>;
interface OpenApi extends Json {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
}

/**
 * GET /logs is not in the vendored extracts. This follows Render's public Logs
 * API as its own clients model it (all four fields required).
 */
const LOGS_200: Json = {
  type: "object",
  required: ["hasMore", "nextStartTime", "nextEndTime", "logs"],
  properties: {
    hasMore: { type: "boolean" },
    nextStartTime: { type: "string", format: "date-time" },
    nextEndTime: { type: "string", format: "date-time" },
    logs: {
      type: "array",
      items: {
        type: "object",
        required: ["id", "message", "timestamp", "labels"],
        properties: {
          id: { type: "string" },
          message: { type: "string" },
          timestamp: { type: "string", format: "date-time" },
          labels: {
            type: "array",
            items: {
              type: "object",
              required: ["name", "value"],
              properties: {
                name: {
                  type: "string",
                  enum: [
                    "host",
                    "instance",
                    "level",
                    "method",
                    "path",
                    "resource",
                    "statusCode",
                    "text",
                    "type",
                  ],
                },
                value: { type: "string" },
              },
            },
          },
        },
      },
    },
  },
};

export class ContractViolation extends Error {
  override name = "ContractViolation";
}

const ajv = new Ajv({ allErrors: true, strict: true });
// A CommonJS module: its default export is on `.default` under NodeNext.
formats.default(ajv);
ajv.addKeyword("example");
const compiled = new Map<string, ValidateFunction>();

/** Resolves a local `$ref` (JSON pointer, percent-encoded, into any part of the document). */
function resolvePointer(doc: OpenApi, ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`unsupported $ref ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    node = (node as Json | undefined)?.[key];
    if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
  }
  return node;
}

/** A schema with every `$ref` inlined and OpenAPI 3.0's `nullable` made JSON Schema. */
function inline(doc: OpenApi, node: unknown, depth = 0): unknown {
  if (depth > 50) throw new Error("$ref cycle");
  if (Array.isArray(node)) return node.map((item) => inline(doc, item, depth + 1));
  if (node === null || typeof node !== "object") return node;
  const object = node as Json;
  if (typeof object.$ref === "string")
    return inline(doc, resolvePointer(doc, object.$ref), depth + 1);
  const out: Json = {};
  for (const [key, value] of Object.entries(object)) out[key] = inline(doc, value, depth + 1);
  if (out.nullable === true) {
    out.type = [out.type, "null"].flat();
  }
  delete out.nullable;
  return out;
}

function operation(template: string, method: string): { doc: OpenApi; op: Json } {
  for (const doc of DOCUMENTS) {
    const op = doc.paths[template]?.[method.toLowerCase()];
    if (op) return { doc, op };
  }
  throw new ContractViolation(`${method} ${template} is not in Render's OpenAPI documents`);
}

function validator(key: string, schema: () => unknown): ValidateFunction {
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema() as Json);
    compiled.set(key, validate);
  }
  return validate;
}

function check(validate: ValidateFunction, body: unknown, what: string): void {
  if (!validate(body)) {
    throw new ContractViolation(
      `${what} does not match Render's OpenAPI: ${ajv.errorsText(validate.errors, { dataVar: "body" })}`,
    );
  }
}

/** The JSON schema of a documented response, or of Render's error body for an undocumented status. */
function responseSchema(template: string, method: string, status: number): unknown {
  if (template === "/logs") {
    return status === 200 ? LOGS_200 : DOCUMENTS[1]?.components.schemas.error;
  }
  const { doc, op } = operation(template, method);
  const responses = op.responses as Record<string, unknown>;
  const response = responses[String(status)];
  if (response === undefined) {
    if (status < 400) {
      throw new ContractViolation(`${method} ${template} does not document HTTP ${status}`);
    }
    return doc.components.schemas.error;
  }
  const resolved = inline(doc, response) as { content?: Record<string, { schema?: unknown }> };
  const content = resolved.content?.["application/json"];
  if (!content) return undefined;
  return content.schema;
}

/** Throws ContractViolation unless `body` is what Render documents for this response. */
export function validateResponse(
  method: string,
  template: string,
  status: number,
  body: unknown,
): void {
  const schema = responseSchema(template, method, status);
  if (schema === undefined) {
    if (body !== undefined) {
      throw new ContractViolation(`${method} ${template} ${status} documents no body`);
    }
    return;
  }
  const key = `response ${method} ${template} ${status}`;
  check(
    validator(key, () => schema),
    body,
    key,
  );
}

/** Throws ContractViolation unless `body` is a request body Render documents. */
export function validateRequestBody(method: string, template: string, body: unknown): void {
  const { doc, op } = operation(template, method);
  const key = `request ${method} ${template}`;
  check(
    validator(key, () => {
      const requestBody = inline(doc, op.requestBody) as {
        content: Record<string, { schema: unknown }>;
      };
      return requestBody.content["application/json"]?.schema;
    }),
    body,
    key,
  );
}

/**
 * The `data` of a /task-runs/events frame. The stream's schema is a string;
 * Render describes the data as run details, so it is held to GET
 * /task-runs/{taskRunId}'s schema.
 */
export function validateRunEvent(data: unknown): void {
  validateResponse("GET", "/task-runs/{taskRunId}", 200, data);
}

/**
 * Throws ContractViolation unless every query parameter is documented for the
 * operation, required ones are present, and each value fits its schema
 * (arrays as repeated keys, or comma-separated where `explode: false`).
 */
export function validateQuery(method: string, template: string, query: URLSearchParams): void {
  const { doc, op } = operation(template, method);
  const shared = (doc.paths[template] as { parameters?: unknown[] }).parameters ?? [];
  const parameters = [...shared, ...((op.parameters as unknown[] | undefined) ?? [])]
    .map(
      (p) =>
        inline(doc, p) as {
          name: string;
          in: string;
          required?: boolean;
          explode?: boolean;
          schema: Json;
        },
    )
    .filter((p) => p.in === "query");
  for (const name of new Set(query.keys())) {
    if (!parameters.some((p) => p.name === name)) {
      throw new ContractViolation(`${method} ${template} has no query parameter ${name}`);
    }
  }
  for (const parameter of parameters) {
    const raw = query.getAll(parameter.name);
    if (raw.length === 0) {
      if (parameter.required) {
        throw new ContractViolation(
          `${method} ${template} requires query parameter ${parameter.name}`,
        );
      }
      continue;
    }
    const { schema } = parameter;
    const key = `query ${method} ${template} ${parameter.name}`;
    const value =
      schema.type === "array"
        ? parameter.explode === false
          ? raw.flatMap((v) => v.split(","))
          : raw
        : raw.length === 1
          ? schema.type === "integer"
            ? Number(raw[0])
            : raw[0]
          : raw;
    check(
      validator(key, () => schema),
      value,
      key,
    );
  }
}
