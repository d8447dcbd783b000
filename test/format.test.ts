/** The text line beside a run: its preview of a result never serialises all of a large one. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preview } from "../src/mcp/format.js";

describe("preview", () => {
  it("is JSON.stringify cut to 200 characters, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value) ?? "undefined";
        expect(preview(value)).toBe(text.length > 200 ? `${text.slice(0, 200)}…` : text);
      }),
      { numRuns: 2_000 },
    );
  });

  it("reads only the start of a large result", () => {
    const big = { greeting: "x".repeat(4_000_000), more: Array.from({ length: 100_000 }, () => 1) };
    expect(preview(big)).toBe(`{"greeting":"${"x".repeat(187)}…`);
    expect(preview([undefined, 1])).toBe("[null,1]");
  });
});
