// The consistent-hash ring (DESIGN.md §5): shards sit on a 32-bit circle through weighted
// virtual nodes, and a key belongs to the first point at or after its hash (wrapping).
// Rings are immutable values: a membership change builds a new ring, so a reader never
// sees a half-updated one and two rings can be compared (what-if, rebalance, routing).
import xxhash from "xxhash-wasm";
import { CohortError } from "../errors";

/** Points and hashes live in [0, HASH_SPACE). */
export const HASH_SPACE = 2 ** 32;
export const MAX_HASH = HASH_SPACE - 1;
/** Ketama's count: 40 hashes × 4 points per server (libketama, and `hashring`'s default). */
export const DEFAULT_VNODES_PER_WEIGHT = 160;
/** Bounds the ring's size (points = Σ weight × vnodesPerWeight) and the owner index type. */
export const MAX_WEIGHT = 100;
export const MAX_SHARDS = 1024;
/** Same rule as shard names in server/config.ts. */
export const SHARD_NAME = /^[a-z][a-z0-9_-]{0,30}$/;

export interface RingMember {
  name: string;
  /** Relative capacity; a weight-2 shard gets twice the virtual nodes of a weight-1 shard. */
  weight: number;
}

export interface RingConfig {
  shards: readonly RingMember[];
  vnodesPerWeight?: number;
}

/** A stretch of the circle with inclusive hash bounds: keys hashing into [start, end] go to owner. */
export interface RingRange {
  start: number;
  end: number;
  owner: string;
}

export interface Hasher {
  /** xxHash32 of the key's UTF-8 bytes (seed 0): an unsigned 32-bit integer. */
  hash(key: string): number;
}

let hasherPromise: Promise<Hasher> | null = null;

/**
 * xxHash32 through xxhash-wasm. The wasm module is instantiated once per process and
 * shared. 32 bits rather than 64: h64 returns a BigInt, which costs an allocation per
 * call, and 32 bits already place 10⁴ points with a negligible chance of collision
 * (collisions are still resolved deterministically, see HashRing).
 */
export function createHasher(): Promise<Hasher> {
  hasherPromise ??= xxhash().then(
    ({ h32 }) => ({ hash: (key: string) => h32(key) }),
    (err: unknown) => {
      hasherPromise = null;
      throw err;
    },
  );
  return hasherPromise;
}

/** How many points a shard gets: at least one, so a tiny weight still owns something. */
export function vnodeCount(weight: number, vnodesPerWeight: number): number {
  return Math.max(1, Math.round(weight * vnodesPerWeight));
}

/**
 * The label hashed for a shard's i-th virtual node: Ketama's `<server>-<i>`. Because i is
 * all digits the last "-" splits it unambiguously, so two shards never share a label. A
 * reweight keeps labels 0..k-1 and only adds or drops the tail, so it moves no more keys
 * than the change in weight requires.
 */
export function vnodeLabel(shard: string, i: number): string {
  return `${shard}-${i}`;
}

export function checkVnodesPerWeight(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new CohortError("BAD_REQUEST", "vnodesPerWeight must be an integer in [1, 10000]");
  return n;
}

/** Validated, sorted by name (code-unit order, not locale: every process must agree). */
export function normalizeMembers(shards: readonly RingMember[]): RingMember[] {
  if (shards.length === 0) throw new CohortError("BAD_REQUEST", "a ring needs at least one shard");
  if (shards.length > MAX_SHARDS) throw new CohortError("BAD_REQUEST", `a ring holds at most ${MAX_SHARDS} shards`);
  const seen = new Set<string>();
  for (const s of shards) {
    if (!SHARD_NAME.test(s.name))
      throw new CohortError("BAD_REQUEST", `bad shard name "${s.name}"`, { details: { shard: s.name } });
    if (seen.has(s.name))
      throw new CohortError("BAD_REQUEST", `shard "${s.name}" is listed twice`, { details: { shard: s.name } });
    seen.add(s.name);
    if (!Number.isFinite(s.weight) || s.weight <= 0 || s.weight > MAX_WEIGHT) {
      throw new CohortError("BAD_REQUEST", `weight of "${s.name}" must be in (0, ${MAX_WEIGHT}]`, { details: { shard: s.name } });
    }
  }
  return shards.map((s) => ({ name: s.name, weight: s.weight })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export class HashRing {
  /** Sorted by name; index i is owner index i in `owners`. */
  readonly members: readonly RingMember[];
  readonly vnodesPerWeight: number;
  readonly totalWeight: number;
  private readonly names: string[];
  /** Ascending, distinct. */
  private readonly points: Uint32Array;
  private readonly owners: Uint16Array;

  constructor(
    readonly hasher: Hasher,
    config: RingConfig,
  ) {
    const vnodesPerWeight = checkVnodesPerWeight(config.vnodesPerWeight ?? DEFAULT_VNODES_PER_WEIGHT);
    this.members = Object.freeze(normalizeMembers(config.shards));
    this.vnodesPerWeight = vnodesPerWeight;
    this.names = this.members.map((m) => m.name);
    this.totalWeight = this.members.reduce((sum, m) => sum + m.weight, 0);

    // Pack (point, owner) into one float64 (< 2^42, exact) so a plain numeric sort orders
    // by point and breaks ties by owner index, i.e. by shard name: deterministic.
    const counts = this.members.map((m) => vnodeCount(m.weight, vnodesPerWeight));
    const packed = new Float64Array(counts.reduce((a, b) => a + b, 0));
    let n = 0;
    this.members.forEach((m, owner) => {
      for (let i = 0; i < counts[owner]!; i++) packed[n++] = hasher.hash(vnodeLabel(m.name, i)) * MAX_SHARDS + owner;
    });
    packed.sort();
    // A point two shards hash to goes to the first by name; the other's copy owns nothing.
    const points = new Uint32Array(packed.length);
    const owners = new Uint16Array(packed.length);
    let kept = 0;
    for (let i = 0; i < packed.length; i++) {
      const point = Math.floor(packed[i]! / MAX_SHARDS);
      if (kept > 0 && points[kept - 1] === point) continue;
      points[kept] = point;
      owners[kept] = packed[i]! - point * MAX_SHARDS;
      kept++;
    }
    this.points = points.slice(0, kept);
    this.owners = owners.slice(0, kept);
  }

  /** The same hasher and vnode density with other members: what-if and rebalance targets. */
  withMembers(shards: readonly RingMember[]): HashRing {
    return new HashRing(this.hasher, { shards, vnodesPerWeight: this.vnodesPerWeight });
  }

  get shardNames(): string[] {
    return [...this.names];
  }

  /** Number of distinct points on the circle. */
  get pointCount(): number {
    return this.points.length;
  }

  /** A copy of the points, ascending: rings are compared point by point (what-if). */
  pointList(): Uint32Array {
    return this.points.slice();
  }

  hash(key: string): number {
    return this.hasher.hash(key);
  }

  lookup(key: string): string {
    return this.names[this.ownerIndexOfHash(this.hasher.hash(key))]!;
  }

  ownerOfHash(hash: number): string {
    return this.names[this.ownerIndexOfHash(hash)]!;
  }

  /** Lower bound: the first point ≥ hash, wrapping past the largest point to the first. */
  private ownerIndexOfHash(hash: number): number {
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === points.length ? 0 : lo]!;
  }

  /**
   * The circle cut into ranges in hash order, covering [0, MAX_HASH] exactly once. The arc
   * that wraps past zero is reported as two ranges (its tail at the end of the list and its
   * head at the start) so every range has start ≤ end. `merge` joins neighbours with the
   * same owner, which is what a drawing wants.
   */
  ranges(opts: { merge?: boolean } = {}): RingRange[] {
    const merge = opts.merge ?? true;
    const out: RingRange[] = [];
    const push = (start: number, end: number, ownerIndex: number) => {
      const owner = this.names[ownerIndex]!;
      const last = out[out.length - 1];
      if (merge && last && last.owner === owner && last.end + 1 === start) last.end = end;
      else out.push({ start, end, owner });
    };
    let start = 0;
    for (let i = 0; i < this.points.length; i++) {
      push(start, this.points[i]!, this.owners[i]!);
      start = this.points[i]! + 1;
    }
    if (start <= MAX_HASH) push(start, MAX_HASH, this.owners[0]!);
    return out;
  }

  /** Fraction of the circle each shard owns (sums to 1). */
  shares(): Record<string, number> {
    const owned = new Float64Array(this.names.length);
    let prev = -1;
    for (let i = 0; i < this.points.length; i++) {
      owned[this.owners[i]!]! += this.points[i]! - prev;
      prev = this.points[i]!;
    }
    owned[this.owners[0]!]! += MAX_HASH - prev;
    return Object.fromEntries(this.names.map((name, i) => [name, owned[i]! / HASH_SPACE]));
  }

  /** Fraction of the circle a shard should own given the weights alone. */
  idealShares(): Record<string, number> {
    return Object.fromEntries(this.members.map((m) => [m.name, m.weight / this.totalWeight]));
  }

  /** How many of `keys` each shard gets (every member listed, zeros included). */
  keyCounts(keys: Iterable<string>): Record<string, number> {
    const counts = new Float64Array(this.names.length);
    for (const key of keys) counts[this.ownerIndexOfHash(this.hasher.hash(key))]!++;
    return Object.fromEntries(this.names.map((name, i) => [name, counts[i]!]));
  }

  /**
   * Load imbalance, max over mean: the most loaded shard's load relative to what its weight
   * asks for (1 is perfect). Load is the share of the circle, or of `keys` when given.
   * With equal weights this is exactly max/mean; normalising by weight keeps a deliberately
   * bigger shard from reading as an imbalance.
   */
  imbalance(keys?: Iterable<string>): number {
    let loads: Record<string, number>;
    if (keys === undefined) {
      loads = this.shares();
    } else {
      const counts = this.keyCounts(keys);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (total === 0) return 1;
      loads = Object.fromEntries(Object.entries(counts).map(([name, c]) => [name, c / total]));
    }
    let worst = 0;
    for (const m of this.members) worst = Math.max(worst, loads[m.name]! / (m.weight / this.totalWeight));
    return worst;
  }

  /** Same placement ⇔ same members, weights and density (what ring versions store). */
  sameAs(other: HashRing): boolean {
    return (
      this.vnodesPerWeight === other.vnodesPerWeight &&
      this.members.length === other.members.length &&
      this.members.every((m, i) => m.name === other.members[i]!.name && m.weight === other.members[i]!.weight)
    );
  }
}
