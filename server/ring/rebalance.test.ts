import { beforeAll, describe, expect, it } from "vitest";
import { createHasher, HashRing, type Hasher, type RingMember } from "./hashRing";
import { atOrBefore, compareKeys, planRebalance } from "./rebalance";
import { RoutingTable } from "./routing";

let hasher: Hasher;
beforeAll(async () => {
  hasher = await createHasher();
});

const members = (n: number): RingMember[] =>
  Array.from({ length: n }, (_, i) => ({ name: `shard-${String.fromCharCode(97 + i)}`, weight: 1 }));
const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i));

describe("compareKeys", () => {
  it("orders canonical integers numerically, so `ORDER BY id` on a bigint column matches", () => {
    const sorted = ["10", "9", "100", "0", "11", "2"].sort(compareKeys);
    expect(sorted).toEqual(["0", "2", "9", "10", "11", "100"]);
    expect(atOrBefore("5", null)).toBe(false);
    expect(atOrBefore("5", "5")).toBe(true);
    expect(atOrBefore("10", "9")).toBe(false);
  });
});

describe("planRebalance", () => {
  it("lists exactly the keys whose owner changed, once each, in rebalance order", () => {
    const from = new HashRing(hasher, { shards: members(4) });
    const to = from.withMembers(members(5));
    const keys = ids(5000);
    const plan = planRebalance(from, to, [...keys].reverse().concat(keys.slice(0, 100)));
    const expected = keys.filter((k) => from.lookup(k) !== to.lookup(k));
    expect(plan.map((m) => m.key)).toEqual(expected);
    for (const m of plan) expect(m).toEqual({ key: m.key, from: from.lookup(m.key), to: to.lookup(m.key) });
    expect(plan.every((m) => m.to === "shard-e")).toBe(true);
  });
});

describe("RoutingTable", () => {
  it("reads a key from where it is: old owner until the cursor passes it", () => {
    const from = new HashRing(hasher, { shards: members(4) });
    const to = from.withMembers(members(5));
    const plan = planRebalance(from, to, ids(2000));
    const cursor = plan[Math.floor(plan.length / 2)]!.key;
    const table = RoutingTable.inTransition(2, to, { runId: "r", from, cursor: null, status: "RUNNING" });
    for (const k of ids(2000)) expect(table.locate(k)).toBe(from.lookup(k));

    const mid = table.withProgress({ runId: "r", cursor, status: "RUNNING" });
    for (const k of ids(2000)) {
      const moved = compareKeys(k, cursor) <= 0;
      expect(mid.locate(k)).toBe(moved ? to.lookup(k) : from.lookup(k));
      expect(mid.target(k)).toBe(to.lookup(k));
    }
    // Stale or foreign events never move the cursor back.
    expect(mid.withProgress({ runId: "r", cursor: plan[0]!.key, status: "RUNNING" })).toBe(mid);
    expect(mid.withProgress({ runId: "other", cursor: null, status: "DONE" })).toBe(mid);
    // Cancelled: still split at the cursor.
    const cancelled = mid.withProgress({ runId: "r", cursor, status: "CANCELLED" });
    expect(cancelled.transition?.status).toBe("CANCELLED");
    for (const k of ids(2000)) expect(cancelled.locate(k)).toBe(mid.locate(k));

    const done = mid.withProgress({ runId: "r", cursor, status: "DONE" });
    expect(done.transition).toBeNull();
    for (const k of ids(2000)) expect(done.locate(k)).toBe(to.lookup(k));
  });
});
