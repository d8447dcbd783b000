import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TokenCache, tokenDigest } from "../src/auth/token-cache.js";

/** A clock the test moves: expiry is judged by it, so nothing waits. */
function manualClock(start = 1_700_000_000_000) {
  let current = start;
  return { clock: () => current, advance: (ms: number) => (current += ms), now: () => current };
}

const FAR = Number.POSITIVE_INFINITY;

describe("tokenDigest", () => {
  it("is the SHA-256 of the token, base64url: never the token itself", () => {
    const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
    expect(tokenDigest(token)).toBe(createHash("sha256").update(token).digest("base64url"));
    expect(tokenDigest(token)).toHaveLength(43);
    expect(tokenDigest(token)).not.toContain(token.slice(0, 10));
  });
});

describe("TokenCache", () => {
  it("returns what was stored for a token, and nothing for any other token", () => {
    const cache = new TokenCache<string>({ maxEntries: 10, maxTtlMs: 60_000 });
    cache.set("token-a", "A", FAR);
    cache.set("token-b", "B", FAR);
    expect(cache.get("token-a")).toBe("A");
    expect(cache.get("token-b")).toBe("B");
    // Differing in one character, a prefix, an extension, another case: all misses.
    for (const other of ["token-c", "token-", "token-aa", "TOKEN-A", " token-a"]) {
      expect(cache.get(other)).toBeUndefined();
    }
  });

  it("never holds more than maxEntries, dropping the least recently used", () => {
    const cache = new TokenCache<number>({ maxEntries: 3, maxTtlMs: 60_000 });
    cache.set("t1", 1, FAR);
    cache.set("t2", 2, FAR);
    cache.set("t3", 3, FAR);
    expect(cache.get("t1")).toBe(1); // t1 is now the most recently used; t2 the least
    cache.set("t4", 4, FAR);
    expect(cache.size).toBe(3);
    expect([cache.get("t1"), cache.get("t2"), cache.get("t3"), cache.get("t4")]).toEqual([
      1,
      undefined,
      3,
      4,
    ]);
    for (let i = 0; i < 1000; i++) cache.set(`flood-${i}`, i, FAR);
    expect(cache.size).toBe(3);
    expect(cache.get("flood-999")).toBe(999);
    expect(cache.get("t1")).toBeUndefined();
  });

  it("replacing an entry does not count twice", () => {
    const cache = new TokenCache<number>({ maxEntries: 2, maxTtlMs: 60_000 });
    cache.set("t1", 1, FAR);
    cache.set("t1", 11, FAR);
    cache.set("t2", 2, FAR);
    expect(cache.size).toBe(2);
    expect([cache.get("t1"), cache.get("t2")]).toEqual([11, 2]);
  });

  it("expires an entry at the time it was given (e.g. the token's exp)", () => {
    const time = manualClock();
    const cache = new TokenCache<string>({ maxEntries: 10, maxTtlMs: 600_000, clock: time.clock });
    cache.set("token", "v", time.now() + 30_000);
    time.advance(29_999);
    expect(cache.get("token")).toBe("v");
    time.advance(1);
    expect(cache.get("token")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("expires every entry after maxTtlMs at the latest, whatever it was given", () => {
    const time = manualClock();
    const cache = new TokenCache<string>({ maxEntries: 10, maxTtlMs: 300_000, clock: time.clock });
    cache.set("token", "v", time.now() + 86_400_000);
    time.advance(299_999);
    expect(cache.get("token")).toBe("v");
    time.advance(1);
    expect(cache.get("token")).toBeUndefined();
  });

  it("stores nothing whose time has already passed, and drops the previous entry", () => {
    const time = manualClock();
    const cache = new TokenCache<string>({ maxEntries: 10, maxTtlMs: 60_000, clock: time.clock });
    cache.set("token", "old", FAR);
    cache.set("token", "expired", time.now());
    expect(cache.get("token")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("delete and clear forget entries", () => {
    const cache = new TokenCache<number>({ maxEntries: 10, maxTtlMs: 60_000 });
    cache.set("t1", 1, FAR);
    cache.set("t2", 2, FAR);
    cache.delete("t1");
    expect([cache.get("t1"), cache.get("t2")]).toEqual([undefined, 2]);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("refuses bounds that would make it unbounded or useless", () => {
    expect(() => new TokenCache({ maxEntries: 0, maxTtlMs: 1 })).toThrow(TypeError);
    expect(() => new TokenCache({ maxEntries: 1.5, maxTtlMs: 1 })).toThrow(TypeError);
    expect(() => new TokenCache({ maxEntries: 1, maxTtlMs: 0 })).toThrow(TypeError);
    expect(() => new TokenCache({ maxEntries: 1, maxTtlMs: Number.NaN })).toThrow(TypeError);
  });
});
