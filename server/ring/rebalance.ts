// Rebalance planning (pure). A run walks the keys in one fixed order and keeps a cursor:
// every key at or before the cursor has reached its owner on the new ring, every key after
// it is still where the old ring put it. That one rule is what routing during a run needs
// (see routing.ts), so the order must be computable by every process from the key alone.
import type { HashRing } from "./hashRing";

export interface PlannedMove {
  key: string;
  from: string;
  to: string;
}

/**
 * The rebalance order: shorter keys first, then code-unit order. For canonical decimal
 * integers (no sign, no leading zeros) this is numeric order, so a shard can page its keys
 * with a plain `WHERE id > $cursor ORDER BY id` on a bigint column.
 */
export function compareKeys(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `key` is at or before `cursor` in rebalance order (a null cursor is before everything). */
export function atOrBefore(key: string, cursor: string | null): boolean {
  return cursor !== null && compareKeys(key, cursor) <= 0;
}

/** The keys whose owner differs between the rings, in rebalance order, each once. */
export function planRebalance(from: HashRing, to: HashRing, keys: Iterable<string>): PlannedMove[] {
  const moves: PlannedMove[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    // One hash for both rings.
    const h = from.hash(key);
    const a = from.ownerOfHash(h);
    const b = to.ownerOfHash(h);
    if (a !== b) moves.push({ key, from: a, to: b });
  }
  return moves.sort((x, y) => compareKeys(x.key, y.key));
}
