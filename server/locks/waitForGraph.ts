// The wait-for graph (DESIGN.md §3): who waits for whom, built from lock snapshots, and
// the cycles in it. Pure, so the rules are unit-tested apart from Redis.
import type { LockMode, LockState, WaitForEdge } from "./types";

const conflicts = (a: LockMode, b: LockMode) => a === "exclusive" || b === "exclusive";

/**
 * A waiter waits for every holder in a conflicting mode, and for every waiter queued
 * ahead of it in a conflicting mode (FIFO: those are served first). Without the queue
 * edges some deadlocks stay invisible: A holds k shared, B queues for k exclusive, C
 * queues for k shared behind B and holds what A waits for. An owner upgrading a shared
 * hold only waits for the other holders, as the lock scripts grant it.
 */
export function buildWaitForEdges(states: LockState[]): WaitForEdge[] {
  const edges: WaitForEdge[] = [];
  for (const s of states) {
    for (let i = 0; i < s.waiters.length; i++) {
      const w = s.waiters[i]!;
      const base = { waiter: w.owner, key: s.key, waiterId: w.waiterId, waiterStartedAt: w.ownerStartedAt };
      const upgrading = s.holders.some((h) => h.owner === w.owner);
      for (const h of s.holders) {
        if (h.owner !== w.owner && conflicts(h.mode, w.mode)) {
          edges.push({ ...base, holder: h.owner, via: "holds", blockerRef: `token:${h.token}` });
        }
      }
      if (upgrading) continue;
      for (const ahead of s.waiters.slice(0, i)) {
        if (ahead.owner !== w.owner && conflicts(ahead.mode, w.mode)) {
          edges.push({ ...base, holder: ahead.owner, via: "queuedAhead", blockerRef: `waiter:${ahead.waiterId}` });
        }
      }
    }
  }
  return edges;
}

/**
 * One cycle from every strongly connected component that has one (Tarjan), as the list of
 * edges around it. Breaking that cycle may leave another in the same component; the next
 * detection round finds it.
 */
export function findCycles(edges: WaitForEdge[]): WaitForEdge[][] {
  const out = new Map<string, WaitForEdge[]>();
  for (const e of edges) {
    if (e.waiter === e.holder) continue;
    const list = out.get(e.waiter);
    if (list) list.push(e);
    else out.set(e.waiter, [e]);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;

  // Iterative Tarjan: a long chain of waits must not overflow the call stack.
  for (const root of out.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const succ = out.get(frame.node) ?? [];
      if (frame.edge < succ.length) {
        const to = succ[frame.edge++]!.holder;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
        } while (n !== frame.node);
        if (component.length > 1) components.push(component);
      }
    }
  }

  return components.map((component) => cycleWithin(new Set(component), out));
}

/** A shortest cycle through the component's first member, by breadth-first search. */
function cycleWithin(members: Set<string>, out: Map<string, WaitForEdge[]>): WaitForEdge[] {
  const start = [...members].sort()[0]!;
  const via = new Map<string, WaitForEdge>();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const e of out.get(node) ?? []) {
      if (!members.has(e.holder)) continue;
      if (e.holder === start) {
        const cycle = [e];
        let at = node;
        while (at !== start) {
          const back = via.get(at)!;
          cycle.unshift(back);
          at = back.waiter;
        }
        return cycle;
      }
      if (!via.has(e.holder)) {
        via.set(e.holder, e);
        queue.push(e.holder);
      }
    }
  }
  throw new Error("a strongly connected component without a cycle");
}

/**
 * The youngest transaction of the cycle (latest start): it has done the least work, and
 * always choosing the youngest means an old transaction is never starved by newcomers.
 * Ties go to the larger owner id so that every detector picks the same victim.
 */
export function chooseVictim(cycle: WaitForEdge[]): WaitForEdge {
  return cycle.reduce((a, b) =>
    b.waiterStartedAt > a.waiterStartedAt || (b.waiterStartedAt === a.waiterStartedAt && b.waiter > a.waiter) ? b : a,
  );
}

export const edgeId = (e: WaitForEdge) => `${e.key}\u0000${e.waiterId}\u0000${e.blockerRef}`;
