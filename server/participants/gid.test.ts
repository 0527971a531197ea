import { describe, expect, it } from "vitest";
import { formatGid, gidLiteral, parseGid } from "./gid";

describe("gid", () => {
  const id = "0190f5c2-7a1b-7cc3-8d2e-1234567890ab";
  it("round-trips transaction and shard", () => {
    expect(parseGid(formatGid(id, "shard-b"))).toEqual({ txId: id, shard: "shard-b" });
  });
  it("rejects other systems' gids", () => {
    expect(parseGid("_pg3_" + id)).toBeNull();
    expect(parseGid(`other:${id}:shard-a`)).toBeNull();
    expect(parseGid("cohort:not-a-uuid:shard-a")).toBeNull();
    expect(parseGid(`cohort:${id}:`)).toBeNull();
  });
  it("quotes literals", () => {
    expect(gidLiteral("a'b")).toBe("'a''b'");
  });
});
