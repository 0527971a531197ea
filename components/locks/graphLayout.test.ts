import { describe, expect, it } from "vitest";
import { chainOrder, circularLayout, edgePath, NODE_RADIUS } from "./graphLayout";

describe("wait-for graph layout", () => {
  it("puts a chain of waits and a cycle each next to each other", () => {
    // d waits for a, a for c; x and y wait for each other.
    const edges = [
      { waiter: "d", holder: "a" },
      { waiter: "a", holder: "c" },
      { waiter: "x", holder: "y" },
      { waiter: "y", holder: "x" },
    ];
    expect(chainOrder(["y", "x", "d", "c", "a"], edges)).toEqual(["c", "a", "d", "x", "y"]);
  });

  it("is deterministic, keeps every node inside the picture and apart from the others", () => {
    const ids = Array.from({ length: 12 }, (_, i) => `tx-${i}`);
    const edges = ids.slice(1).map((id, i) => ({ waiter: id, holder: ids[i]! }));
    const a = circularLayout(ids, edges);
    const b = circularLayout([...ids].reverse(), edges);
    expect([...a.positions]).toEqual([...b.positions]);
    const points = [...a.positions.values()];
    for (const p of points) {
      expect(p.x).toBeGreaterThan(NODE_RADIUS);
      expect(p.x).toBeLessThan(a.width - NODE_RADIUS);
      expect(p.y).toBeGreaterThan(NODE_RADIUS);
      expect(p.y).toBeLessThan(a.height - NODE_RADIUS);
    }
    for (let i = 0; i < points.length; i++)
      for (let j = i + 1; j < points.length; j++)
        expect(Math.hypot(points[i]!.x - points[j]!.x, points[i]!.y - points[j]!.y)).toBeGreaterThan(4 * NODE_RADIUS);
  });

  it("draws A→B and B→A as two distinct curves that stop at the nodes' rims", () => {
    const a = { x: 100, y: 100 };
    const b = { x: 300, y: 100 };
    const there = edgePath(a, b);
    const back = edgePath(b, a);
    expect(there.mid.y).not.toBe(back.mid.y);
    const start = there.d.match(/^M([\d.]+),([\d.]+)/)!;
    expect(Math.hypot(Number(start[1]) - a.x, Number(start[2]) - a.y)).toBeCloseTo(NODE_RADIUS, 0);
  });
});
