import { describe, expect, it } from "vitest";
import { encodeCursor } from "./cursor";
import { listQuerySchema, parseListSearchParams, toListQuery } from "./filters";
import { filtersToSearchParams } from "./listParams";
import { idPrefixRange } from "./list";

const parse = (input: Record<string, string>) => toListQuery(listQuerySchema.parse(input));
const fails = (input: Record<string, string>) => {
  const result = listQuerySchema.safeParse(input);
  return result.success ? null : result.error.issues.map((i) => i.path.join("."));
};

describe("list filters", () => {
  it("defaults to the newest 50 with no filter", () => {
    expect(parse({})).toEqual({
      state: undefined,
      label: undefined,
      shard: undefined,
      olderThan: undefined,
      idPrefix: undefined,
      sort: "newest",
      limit: 50,
      cursor: undefined,
    });
  });

  it("reads every filter, states in any case, id prefixes as pasted", () => {
    const cursor = encodeCursor({ startedAt: new Date(1_700_000_000_123), id: "0190a8c4-5b7e-7a11-9c3d-1234567890ab" });
    expect(
      parse({
        state: "committing",
        label: " transfer ",
        shard: "shard-b",
        olderThan: "60",
        id: "0190A8C4-5B",
        sort: "oldest",
        limit: "200",
        cursor,
      }),
    ).toEqual({
      state: "COMMITTING",
      label: "transfer",
      shard: "shard-b",
      olderThan: 60,
      idPrefix: "0190a8c45b",
      sort: "oldest",
      limit: 200,
      cursor: { t: 1_700_000_000_123, id: "0190a8c4-5b7e-7a11-9c3d-1234567890ab" },
    });
    expect(parse({ state: "open" }).state).toBe("OPEN");
  });

  it("treats empty parameters as absent", () => {
    expect(parse({ state: "", label: "", shard: "", olderThan: "", id: "", sort: "", limit: "", cursor: "" })).toMatchObject({
      state: undefined,
      label: undefined,
      sort: "newest",
      limit: 50,
      cursor: undefined,
    });
  });

  it.each([
    [{ state: "done" }, "state"],
    [{ shard: "Shard A" }, "shard"],
    [{ olderThan: "-5" }, "olderThan"],
    [{ olderThan: "1.5" }, "olderThan"],
    [{ olderThan: "soon" }, "olderThan"],
    [{ id: "xyz" }, "id"],
    [{ id: "0".repeat(33) }, "id"],
    [{ sort: "random" }, "sort"],
    [{ limit: "0" }, "limit"],
    [{ limit: "201" }, "limit"],
    [{ label: "x".repeat(201) }, "label"],
    [{ cursor: "not-a-cursor" }, "cursor"],
  ])("rejects %j naming the field", (input, field) => {
    expect(fails(input as Record<string, string>)).toEqual([field]);
  });

  it("takes the first of repeated page parameters and reports errors per field", () => {
    expect(parseListSearchParams({ state: ["aborted", "committed"] })).toMatchObject({ ok: true, query: { state: "ABORTED" } });
    const bad = parseListSearchParams({ limit: "9999", shard: "!" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.field).sort()).toEqual(["limit", "shard"]);
  });

  it("writes canonical URLs that parse back to the same filters", () => {
    const filters = {
      state: "ABORTED",
      label: "a b&c",
      shard: "shard-a",
      olderThan: 300,
      idPrefix: "01ab",
      sort: "oldest",
    } as const;
    const params = filtersToSearchParams(filters);
    expect(params.toString()).toBe("state=aborted&label=a+b%26c&shard=shard-a&olderThan=300&id=01ab&sort=oldest");
    expect(parse(Object.fromEntries(params))).toMatchObject(filters);
    expect(filtersToSearchParams({ sort: "newest" }).toString()).toBe("");
  });
});

describe("id prefix ranges", () => {
  it("spans every uuid with the prefix", () => {
    expect(idPrefixRange("01ab")).toEqual(["01ab0000-0000-0000-0000-000000000000", "01abffff-ffff-ffff-ffff-ffffffffffff"]);
    const full = "0190a8c45b7e7a119c3d1234567890ab";
    expect(idPrefixRange(full)).toEqual(["0190a8c4-5b7e-7a11-9c3d-1234567890ab", "0190a8c4-5b7e-7a11-9c3d-1234567890ab"]);
  });
});
