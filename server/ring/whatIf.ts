// What-if (DESIGN.md §5): compare the current ring with the ring a membership change would
// build, without touching anything. Pure: no I/O, inputs are never modified.
import { CohortError } from "../errors";
import { HASH_SPACE, MAX_HASH, type HashRing, type RingMember } from "./hashRing";

export type RingChange = { add: RingMember } | { remove: string } | { reweight: RingMember };

/** A stretch of the circle (inclusive hash bounds) whose owner differs between two rings. */
export interface MovedRange {
  start: number;
  end: number;
  from: string;
  to: string;
}

export interface RingFigures {
  members: RingMember[];
  shares: Record<string, number>;
  imbalance: number;
}

export interface KeySampleFigures {
  sampled: number;
  moved: number;
  movedFraction: number;
  imbalanceBefore: number;
  imbalanceAfter: number;
  /** Keys per (from, to) pair, largest first. */
  flows: { from: string; to: string; keys: number }[];
}

export interface WhatIfResult {
  before: RingFigures;
  after: RingFigures;
  movedRanges: MovedRange[];
  /** Fraction of the circle that changes owner. */
  movedShare: number;
  /** The least any placement could move for this change; see idealMovedShare. */
  idealMovedShare: number;
  /** Present when keys were given. */
  keys?: KeySampleFigures;
}

/** The members after `change`; refuses changes that do not apply to `members`. */
export function applyChange(members: readonly RingMember[], change: RingChange): RingMember[] {
  const has = (name: string) => members.some((m) => m.name === name);
  if ("add" in change) {
    if (has(change.add.name)) throw new CohortError("BAD_REQUEST", `shard "${change.add.name}" is already on the ring`);
    return [...members, { ...change.add }];
  }
  if ("remove" in change) {
    if (!has(change.remove)) throw new CohortError("UNKNOWN_SHARD", `shard "${change.remove}" is not on the ring`);
    if (members.length === 1) throw new CohortError("BAD_REQUEST", "cannot remove the last shard");
    return members.filter((m) => m.name !== change.remove);
  }
  if (!has(change.reweight.name)) throw new CohortError("UNKNOWN_SHARD", `shard "${change.reweight.name}" is not on the ring`);
  return members.map((m) => (m.name === change.reweight.name ? { ...change.reweight } : { ...m }));
}

/**
 * Every stretch of the circle whose owner differs between `from` and `to`, in hash order,
 * neighbours with the same (from, to) merged. Between two consecutive points of either
 * ring both owners are constant, so checking each such interval's end is exact.
 */
export function movedRanges(from: HashRing, to: HashRing): MovedRange[] {
  const bounds = mergedBounds(from, to);
  const out: MovedRange[] = [];
  let start = 0;
  for (const end of bounds) {
    const a = from.ownerOfHash(end);
    const b = to.ownerOfHash(end);
    if (a !== b) {
      const last = out[out.length - 1];
      if (last && last.from === a && last.to === b && last.end + 1 === start) last.end = end;
      else out.push({ start, end, from: a, to: b });
    }
    start = end + 1;
  }
  return out;
}

export function rangesShare(ranges: readonly { start: number; end: number }[]): number {
  let size = 0;
  for (const r of ranges) size += r.end - r.start + 1;
  return size / HASH_SPACE;
}

/**
 * The minimum share of keys any placement must move for a weight change: the total
 * variation distance between the old and new weight distributions. A join of weight w to
 * total W gives w/(W+w), i.e. 1/(n+1) for equal weights; a removal gives w/W.
 */
export function idealMovedShare(before: readonly RingMember[], after: readonly RingMember[]): number {
  const total = (ms: readonly RingMember[]) => ms.reduce((s, m) => s + m.weight, 0);
  const wb = total(before);
  const wa = total(after);
  const share = new Map<string, number>();
  for (const m of before) share.set(m.name, -m.weight / wb);
  for (const m of after) share.set(m.name, (share.get(m.name) ?? 0) + m.weight / wa);
  let gained = 0;
  for (const d of share.values()) if (d > 0) gained += d;
  return gained;
}

export function whatIf(ring: HashRing, change: RingChange, opts: { keys?: readonly string[] } = {}): WhatIfResult {
  const next = ring.withMembers(applyChange(ring.members, change));
  const ranges = movedRanges(ring, next);
  const result: WhatIfResult = {
    before: figures(ring),
    after: figures(next),
    movedRanges: ranges,
    movedShare: rangesShare(ranges),
    idealMovedShare: idealMovedShare(ring.members, next.members),
  };
  if (opts.keys) result.keys = keyFigures(ring, next, opts.keys);
  return result;
}

function figures(ring: HashRing): RingFigures {
  return { members: ring.members.map((m) => ({ ...m })), shares: ring.shares(), imbalance: ring.imbalance() };
}

function keyFigures(from: HashRing, to: HashRing, keys: readonly string[]): KeySampleFigures {
  const flows = new Map<string, { from: string; to: string; keys: number }>();
  let moved = 0;
  for (const key of keys) {
    // One hash per key for both rings: the sample can be large.
    const h = from.hash(key);
    const a = from.ownerOfHash(h);
    const b = to.ownerOfHash(h);
    if (a === b) continue;
    moved++;
    const id = `${a}\u0000${b}`;
    const flow = flows.get(id);
    if (flow) flow.keys++;
    else flows.set(id, { from: a, to: b, keys: 1 });
  }
  return {
    sampled: keys.length,
    moved,
    movedFraction: keys.length === 0 ? 0 : moved / keys.length,
    imbalanceBefore: from.imbalance(keys),
    imbalanceAfter: to.imbalance(keys),
    flows: [...flows.values()].sort((x, y) => y.keys - x.keys || (x.from + x.to < y.from + y.to ? -1 : 1)),
  };
}

/** Every point of either ring plus the top of the circle, ascending and distinct. */
function mergedBounds(a: HashRing, b: HashRing): number[] {
  const pa = a.pointList();
  const pb = b.pointList();
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < pa.length || j < pb.length) {
    const next = j >= pb.length || (i < pa.length && pa[i]! <= pb[j]!) ? pa[i++]! : pb[j++]!;
    if (out[out.length - 1] !== next) out.push(next);
  }
  if (out[out.length - 1] !== MAX_HASH) out.push(MAX_HASH);
  return out;
}
