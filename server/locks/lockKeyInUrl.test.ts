import { describe, expect, it } from "vitest";
import { decodeLockKey, encodeLockKey } from "./lockKeyInUrl";

describe("lock keys in URLs", () => {
  it("round-trips keys a path would otherwise split, normalise or decode", () => {
    for (const key of ["acct:1", "a/b", "..", ".", "x?y#z", "100%", "ключ/🔒", " spaced ", "graph"]) {
      const segment = encodeLockKey(key);
      expect(segment).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeLockKey(segment)).toBe(key);
    }
  });

  it("refuses what encodeLockKey never makes", () => {
    expect(decodeLockKey("")).toBeNull();
    expect(decodeLockKey("a/b")).toBeNull();
    expect(decodeLockKey("YQ==")).toBeNull(); // padded
    expect(decodeLockKey("YR")).toBeNull(); // non-canonical spelling of "a"
    expect(decodeLockKey("gg")).toBeNull(); // 0x82: not UTF-8
    expect(decodeLockKey("graph")).toBeNull(); // the sibling route's name is no key
  });
});
