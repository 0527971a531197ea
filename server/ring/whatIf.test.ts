import { beforeAll, describe, expect, it } from "vitest";
import { isCohortError } from "../errors";
import { createHasher, HashRing, type Hasher, type RingMember } from "./hashRing";
import { applyChange, idealMovedShare, movedRanges, whatIf, type MovedRange, type RingChange } from "./whatIf";

let hasher: Hasher;
beforeAll(async () => {
  hasher = await createHasher();
});

const eight = (): RingMember[] => "abcdefgh".split("").map((c) => ({ name: `shard-${c}`, weight: 1 }));
const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}`);

function rangeOf(ranges: MovedRange[], hash: number): MovedRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (hash < r.start) hi = mid - 1;
    else if (hash > r.end) lo = mid + 1;
    else return r;
  }
  return undefined;
}

const changes: [string, RingChange][] = [
  ["add", { add: { name: "shard-i", weight: 1 } }],
  ["remove", { remove: "shard-c" }],
  ["reweight up", { reweight: { name: "shard-e", weight: 2 } }],
  ["reweight down", { reweight: { name: "shard-b", weight: 0.5 } }],
];

describe("whatIf", () => {
  it.each(changes)("%s: the moved keys are exactly those whose owner changed", (_, change) => {
    const ring = new HashRing(hasher, { shards: eight() });
    const next = ring.withMembers(applyChange(ring.members, change));
    const ranges = movedRanges(ring, next);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).toBeGreaterThan(ranges[i - 1]!.end);
    for (const key of keys) {
      const h = hasher.hash(key);
      const before = ring.lookup(key);
      const after = next.lookup(key);
      const r = rangeOf(ranges, h);
      if (before === after) expect(r).toBeUndefined();
      else expect(r).toMatchObject({ from: before, to: after });
    }
    const result = whatIf(ring, change, { keys });
    const moved = keys.filter((k) => ring.lookup(k) !== next.lookup(k)).length;
    expect(result.keys!.moved).toBe(moved);
    expect(result.keys!.flows.reduce((s, f) => s + f.keys, 0)).toBe(moved);
  });

  it("moves about 1/9 of the ring, all of it to the new shard, when a 9th shard joins 8", () => {
    const ring = new HashRing(hasher, { shards: eight() });
    const result = whatIf(ring, { add: { name: "shard-i", weight: 1 } }, { keys });
    expect(result.idealMovedShare).toBeCloseTo(1 / 9, 12);
    expect(Math.abs(result.movedShare - 1 / 9)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(result.keys!.movedFraction - 1 / 9)).toBeLessThanOrEqual(0.01);
    expect(result.movedRanges.every((r) => r.to === "shard-i")).toBe(true);
    expect(result.movedShare).toBeCloseTo(result.after.shares["shard-i"]!, 12);
  });

  it("moves exactly the removed shard's share, to the others", () => {
    const ring = new HashRing(hasher, { shards: eight() });
    const result = whatIf(ring, { remove: "shard-c" });
    expect(result.movedRanges.every((r) => r.from === "shard-c" && r.to !== "shard-c")).toBe(true);
    expect(result.movedShare).toBeCloseTo(ring.shares()["shard-c"]!, 12);
    expect(result.idealMovedShare).toBeCloseTo(1 / 8, 12);
  });

  it("a reweight only moves keys towards (up) or away from (down) that shard", () => {
    const ring = new HashRing(hasher, { shards: eight() });
    const up = whatIf(ring, { reweight: { name: "shard-e", weight: 2 } });
    expect(up.movedRanges.every((r) => r.to === "shard-e")).toBe(true);
    const down = whatIf(ring, { reweight: { name: "shard-b", weight: 0.5 } });
    expect(down.movedRanges.every((r) => r.from === "shard-b")).toBe(true);
  });

  it("changes nothing: the input ring routes as before", () => {
    const ring = new HashRing(hasher, { shards: eight() });
    const before = keys.slice(0, 2000).map((k) => ring.lookup(k));
    const members = JSON.stringify(ring.members);
    whatIf(ring, { add: { name: "shard-i", weight: 3 } }, { keys });
    whatIf(ring, { remove: "shard-a" });
    expect(JSON.stringify(ring.members)).toBe(members);
    expect(keys.slice(0, 2000).map((k) => ring.lookup(k))).toEqual(before);
  });

  it("ideal moved share is the distance between weight distributions", () => {
    const w = (...ws: number[]) => ws.map((weight, i) => ({ name: `s${i}`, weight }));
    expect(idealMovedShare(w(1, 1, 1, 1), w(1, 1, 1, 1, 1))).toBeCloseTo(1 / 5, 12);
    expect(idealMovedShare(w(1, 1, 1, 1), w(1, 1, 1))).toBeCloseTo(1 / 4, 12);
    expect(idealMovedShare(w(1, 1), w(1, 3))).toBeCloseTo(3 / 4 - 1 / 2, 12);
    expect(idealMovedShare(w(1, 1), w(1, 1))).toBe(0);
  });

  it("refuses changes that do not apply", () => {
    const members = eight();
    const refused = (change: RingChange) => {
      try {
        applyChange(members, change);
        return null;
      } catch (err) {
        return isCohortError(err) ? err.code : String(err);
      }
    };
    expect(refused({ add: { name: "shard-a", weight: 1 } })).toBe("BAD_REQUEST");
    expect(refused({ remove: "shard-z" })).toBe("UNKNOWN_SHARD");
    expect(refused({ reweight: { name: "shard-z", weight: 1 } })).toBe("UNKNOWN_SHARD");
    expect(() => applyChange([{ name: "a", weight: 1 }], { remove: "a" })).toThrow(/last shard/);
  });
});
