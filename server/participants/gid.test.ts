import { describe, expect, it } from "vitest";
import { escapeLike, formatGid, gidLikePatterns, gidLiteral, isNamespace, MAX_GID_BYTES, parseGid } from "./gid";

/** What PostgreSQL's LIKE with ESCAPE '\' would say, for checking the patterns without a server. */
function like(text: string, pattern: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
    else if (c === "%") re += "[\\s\\S]*";
    else if (c === "_") re += "[\\s\\S]";
    else re += c.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(text);
}
const owned = (gid: string, ns: string) => gidLikePatterns(ns).some((p) => like(gid, p));

describe("gid", () => {
  const id = "0190f5c2-7a1b-7cc3-8d2e-1234567890ab";

  it("round-trips namespace, transaction and shard", () => {
    expect(formatGid("blue", id, "shard-b")).toBe(`cohort:blue:${id}:shard-b`);
    expect(parseGid(formatGid("blue", id, "shard-b"), "blue")).toEqual({ txId: id, shard: "shard-b" });
  });

  it("rejects other systems' gids and malformed ones", () => {
    expect(parseGid("_pg3_" + id, "cohort")).toBeNull();
    expect(parseGid(`other:${id}:shard-a`, "cohort")).toBeNull();
    expect(parseGid(`other:cohort:${id}:shard-a`, "cohort")).toBeNull();
    expect(parseGid("cohort:not-a-uuid:shard-a", "cohort")).toBeNull();
    expect(parseGid(`cohort:${id}:`, "cohort")).toBeNull();
    expect(parseGid(`cohort:blue:${id}:`, "blue")).toBeNull();
    expect(parseGid(`cohort:blue:${id}:shard-a:x`, "blue")).toBeNull();
  });

  it("never gives one namespace another's gids, prefixes and look-alikes included", () => {
    const cases: [string, string][] = [
      ["a", "a-b"],
      ["a-b", "a"],
      ["a", "ab"],
      ["a_b", "a-b"],
      ["a_b", "axb"],
      ["cohort", "cohort2"],
      ["cohort", "cohort-old"],
      ["blue", "cohort"],
    ];
    for (const [mine, theirs] of cases) {
      const gid = formatGid(theirs, id, "shard-a");
      expect(parseGid(gid, mine), `${mine} must not parse ${gid}`).toBeNull();
      expect(owned(gid, mine), `${mine}'s LIKE must not match ${gid}`).toBe(false);
      expect(owned(gid, theirs)).toBe(true);
    }
  });

  it("recognises pre-namespace gids as the namespace cohort's only", () => {
    const legacy = `cohort:${id}:shard-a`;
    expect(parseGid(legacy, "cohort")).toEqual({ txId: id, shard: "shard-a" });
    expect(owned(legacy, "cohort")).toBe(true);
    for (const ns of ["blue", "c", "cohort2", "a-b"]) {
      expect(parseGid(legacy, ns)).toBeNull();
      expect(owned(legacy, ns)).toBe(false);
    }
    // The legacy pattern does not pull in other namespaces' gids, even the longest.
    const longest = "z".repeat(31);
    expect(owned(formatGid(longest, id, "shard-a"), "cohort")).toBe(false);
    expect(owned(formatGid("a", id, "shard-a"), "cohort")).toBe(false);
  });

  it("escapes LIKE wildcards", () => {
    expect(escapeLike("a_b%c\\d")).toBe("a\\_b\\%c\\\\d");
    expect(gidLikePatterns("a_b")).toEqual(["cohort:a\\_b:%"]);
  });

  it("stays within PostgreSQL's gid limit for the longest namespace and shard name", () => {
    const longest = formatGid("n".repeat(31), id, "s".repeat(31));
    expect(isNamespace("n".repeat(31))).toBe(true);
    expect(isNamespace("n".repeat(32))).toBe(false);
    expect(Buffer.byteLength(longest)).toBe(107);
    expect(Buffer.byteLength(longest)).toBeLessThanOrEqual(MAX_GID_BYTES);
  });

  it("accepts only short lower-case namespaces without ':'", () => {
    for (const ok of ["cohort", "a", "blue-2", "t1a2b3c4d", "a_b"]) expect(isNamespace(ok)).toBe(true);
    for (const bad of ["", "A", "1a", "a:b", "a b", "a%", "-a", "ä"]) expect(isNamespace(bad)).toBe(false);
  });

  it("quotes literals", () => {
    expect(gidLiteral("a'b")).toBe("'a''b'");
  });
});
