import { describe, expect, it } from "vitest";
import type { LockHolder, LockMode, LockState, LockWaiter } from "./types";
import { buildWaitForEdges, chooseVictim, findCycles } from "./waitForGraph";

const holder = (owner: string, mode: LockMode = "exclusive", token = `${owner}-t`): LockHolder => ({
  owner,
  mode,
  token,
  acquiredAt: 0,
  expiresAt: 1e15,
  host: "h",
});
const waiter = (owner: string, startedAt: number, mode: LockMode = "exclusive"): LockWaiter => ({
  waiterId: `${owner}-w`,
  owner,
  mode,
  ownerStartedAt: startedAt,
  enqueuedAt: 0,
  heartbeatDeadline: 1e15,
  victim: false,
  host: "h",
});
const lock = (key: string, holders: LockHolder[], waiters: LockWaiter[]): LockState => ({
  key,
  now: 0,
  fence: "0",
  holders,
  waiters,
  lastForcedRelease: null,
});
const pairs = (edges: { waiter: string; holder: string }[]) => edges.map((e) => `${e.waiter}->${e.holder}`).sort();

describe("wait-for graph", () => {
  it("has edges to conflicting holders only", () => {
    const edges = buildWaitForEdges([
      lock("k", [holder("A", "shared"), holder("B", "shared")], [waiter("C", 3, "shared"), waiter("D", 4, "exclusive")]),
    ]);
    // C (shared) is compatible with the shared holders, but D waits for both and for C ahead of it.
    expect(pairs(edges)).toEqual(["D->A", "D->B", "D->C"]);
    expect(edges.find((e) => e.holder === "C")?.via).toBe("queuedAhead");
  });

  it("lets an upgrading holder wait only for the other holders", () => {
    const edges = buildWaitForEdges([
      lock("k", [holder("A", "shared"), holder("B", "shared")], [waiter("X", 1), waiter("A", 2)]),
    ]);
    expect(pairs(edges)).toEqual(["A->B", "X->A", "X->B"]);
  });

  it("finds a two-transaction cycle and picks the youngest", () => {
    const edges = buildWaitForEdges([
      lock("a", [holder("T1")], [waiter("T2", 200)]),
      lock("b", [holder("T2")], [waiter("T1", 100)]),
    ]);
    const cycles = findCycles(edges);
    expect(cycles).toHaveLength(1);
    expect(pairs(cycles[0]!)).toEqual(["T1->T2", "T2->T1"]);
    expect(chooseVictim(cycles[0]!).waiter).toBe("T2");
  });

  it("finds a three-transaction cycle and ignores waits that hang off it", () => {
    const edges = buildWaitForEdges([
      lock("a", [holder("T1")], [waiter("T3", 300), waiter("T9", 900)]),
      lock("b", [holder("T2")], [waiter("T1", 100)]),
      lock("c", [holder("T3")], [waiter("T2", 200)]),
    ]);
    const cycles = findCycles(edges);
    expect(cycles).toHaveLength(1);
    expect(pairs(cycles[0]!)).toEqual(["T1->T2", "T2->T3", "T3->T1"]);
    // T9 is the youngest but only waits; it is not part of the cycle.
    expect(chooseVictim(cycles[0]!).waiter).toBe("T3");
  });

  it("sees a cycle that closes through the queue order", () => {
    // T1 holds k shared; T2 queues for k exclusive; T3 queues for k shared behind T2 and
    // holds m, which T1 waits for. T3 waits for T2 only because FIFO serves T2 first.
    const edges = buildWaitForEdges([
      lock("k", [holder("T1", "shared")], [waiter("T2", 200, "exclusive"), waiter("T3", 300, "shared")]),
      lock("m", [holder("T3")], [waiter("T1", 100)]),
    ]);
    const cycles = findCycles(edges);
    expect(cycles).toHaveLength(1);
    expect(pairs(cycles[0]!)).toEqual(["T1->T3", "T2->T1", "T3->T2"]);
  });

  it("reports one cycle per component and none without one", () => {
    const edges = buildWaitForEdges([
      lock("a", [holder("A")], [waiter("B", 2)]),
      lock("b", [holder("B")], [waiter("A", 1)]),
      lock("c", [holder("C")], [waiter("D", 4)]),
      lock("d", [holder("D")], [waiter("C", 3)]),
      lock("e", [holder("E")], [waiter("F", 5)]),
    ]);
    expect(findCycles(edges)).toHaveLength(2);
    expect(findCycles(buildWaitForEdges([lock("e", [holder("E")], [waiter("F", 5)])]))).toEqual([]);
  });

  it("breaks ties between equally old transactions the same way everywhere", () => {
    const edges = buildWaitForEdges([lock("a", [holder("T1")], [waiter("T2", 5)]), lock("b", [holder("T2")], [waiter("T1", 5)])]);
    expect(chooseVictim(findCycles(edges)[0]!).waiter).toBe("T2");
  });
});
