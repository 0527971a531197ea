// Layout of the wait-for graph: nodes on a circle, in an order that keeps each chain of
// waits and each cycle next to each other, so most edges are short chords and a cycle
// reads as a ring. No force simulation: the picture must not move between refreshes
// every two seconds, and the same graph always gets the same picture.

export interface Point {
  x: number;
  y: number;
}

export interface Layout {
  width: number;
  height: number;
  centre: Point;
  positions: Map<string, Point>;
}

export const NODE_RADIUS = 16;
/** Room around the circle for the labels beside each node. */
const MARGIN = 100;
/** Arc length per node, so neighbouring labels do not overlap. */
const SPACING = 150;
const MIN_RADIUS = 110;

/**
 * Depth-first order over the graph taken as undirected, neighbours in sorted order, so it is
 * deterministic and connected nodes end up adjacent. Each component starts at its node of
 * lowest degree: a chain is then walked from one end to the other.
 */
export function chainOrder(ids: string[], edges: { waiter: string; holder: string }[]): string[] {
  const adjacent = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    adjacent.get(e.waiter)?.push(e.holder);
    adjacent.get(e.holder)?.push(e.waiter);
  }
  for (const list of adjacent.values()) list.sort();
  const order: string[] = [];
  const seen = new Set<string>();
  const degree = (id: string) => adjacent.get(id)?.length ?? 0;
  const roots = [...ids].sort((a, b) => degree(a) - degree(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const root of roots) {
    if (seen.has(root)) continue;
    const stack = [root];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      order.push(id);
      // Reversed so the smallest neighbour is visited first.
      for (const next of [...(adjacent.get(id) ?? [])].reverse()) if (!seen.has(next)) stack.push(next);
    }
  }
  return order;
}

export function circularLayout(ids: string[], edges: { waiter: string; holder: string }[]): Layout {
  const order = chainOrder(ids, edges);
  const radius = Math.max(MIN_RADIUS, (order.length * SPACING) / (2 * Math.PI));
  const size = Math.ceil(2 * (radius + MARGIN));
  const centre = size / 2;
  const positions = new Map<string, Point>();
  order.forEach((id, i) => {
    // Start at the top and go clockwise; two nodes sit side by side rather than stacked.
    const angle = order.length === 2 ? Math.PI * i : -Math.PI / 2 + (2 * Math.PI * i) / order.length;
    positions.set(id, { x: round(centre + radius * Math.cos(angle)), y: round(centre + radius * Math.sin(angle)) });
  });
  return { width: size, height: size, centre: { x: centre, y: centre }, positions };
}

/**
 * A gently curved edge from the rim of one node to the rim of the other. Bending to the
 * left of the direction of travel keeps A→B and B→A (a two-party deadlock) apart.
 */
export function edgePath(from: Point, to: Point, bend = 18): { d: string; mid: Point } {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const length = Math.hypot(dx, dy) || 1;
  const nx = -dy / length;
  const ny = dx / length;
  const control = { x: (from.x + to.x) / 2 + nx * bend, y: (from.y + to.y) / 2 + ny * bend };
  const start = towards(from, control, NODE_RADIUS);
  // A little further out at the end, for the arrowhead.
  const end = towards(to, control, NODE_RADIUS + 3);
  const mid = {
    x: round(0.25 * start.x + 0.5 * control.x + 0.25 * end.x),
    y: round(0.25 * start.y + 0.5 * control.y + 0.25 * end.y),
  };
  return { d: `M${start.x},${start.y} Q${round(control.x)},${round(control.y)} ${end.x},${end.y}`, mid };
}

function towards(p: Point, target: Point, distance: number): Point {
  const dx = target.x - p.x;
  const dy = target.y - p.y;
  const length = Math.hypot(dx, dy) || 1;
  return { x: round(p.x + (dx / length) * distance), y: round(p.y + (dy / length) * distance) };
}

const round = (v: number) => Math.round(v * 10) / 10;

/**
 * Where a node's label goes: outside the circle, away from the edges that run inside it,
 * anchored so that it grows away from the node.
 */
export function labelPlacement(
  p: Point,
  centre: Point,
): { x: number; y: number; anchor: "start" | "middle" | "end"; above: boolean } {
  const dx = p.x - centre.x;
  const dy = p.y - centre.y;
  const length = Math.hypot(dx, dy) || 1;
  const [ux, uy] = [dx / length, dy / length];
  const anchor = ux > 0.35 ? "start" : ux < -0.35 ? "end" : "middle";
  return { x: round(p.x + ux * (NODE_RADIUS + 6)), y: round(p.y + uy * (NODE_RADIUS + 6)), anchor, above: uy < -0.35 };
}
