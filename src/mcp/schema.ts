import type { StandardSchemaWithJSON } from "@modelcontextprotocol/server";
import type { z } from "zod";

type Converter = StandardSchemaWithJSON["~standard"]["jsonSchema"]["input"];

/** zod's JSON Schema conversion, computed once per schema and target instead of on every request. */
function memoized(convert: Converter): Converter {
  const byTarget = new Map<string, Record<string, unknown>>();
  return (options) => {
    let schema = byTarget.get(options.target);
    if (!schema) {
      schema = convert(options);
      byTarget.set(options.target, schema);
    }
    return schema;
  };
}

/**
 * A zod schema as the SDK takes it (Standard Schema with JSON Schema), built
 * once at start and shared by every request's server instance: the SDK would
 * otherwise convert each tool's schemas to JSON Schema on every request.
 *
 * `validate: false` lets every value through: tool arguments are validated by
 * our own wrapper (src/mcp/call.ts) so that a refusal carries a stable error
 * code in `_meta`, which the SDK's own validation error cannot.
 */
export function sdkSchema<T extends z.ZodType>(
  schema: T,
  options: { validate: boolean },
): StandardSchemaWithJSON<z.input<T>, z.output<T>> {
  const standard = schema["~standard"] as StandardSchemaWithJSON<
    z.input<T>,
    z.output<T>
  >["~standard"];
  return {
    "~standard": {
      ...standard,
      validate: options.validate
        ? standard.validate
        : (value: unknown) => ({ value: value as z.output<T> }),
      jsonSchema: {
        input: memoized(standard.jsonSchema.input),
        output: memoized(standard.jsonSchema.output),
      },
    },
  };
}
