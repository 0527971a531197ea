// What the console's Ring page shows, read on the server: the ring's placement, each
// shard's share of the circle and of the accounts really stored on it, the imbalance, a
// few sample keys, the rebalance runs, and what-if previews. Reads only.
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import type { Hasher, RingMember, RingRange } from "./hashRing";
import { listRebalanceRuns, unfinishedRun, type RebalanceRunInfo, type RebalanceStatus } from "./rebalanceStore";
import { describeChange, toRingChange, unknownShards, type RingChangeInput } from "./ringChange";
import { loadRing, type RingSnapshot } from "./ringStore";
import { applyChange, whatIf, type WhatIfResult } from "./whatIf";

export interface RingViewDeps {
  prisma: PrismaClient;
  /** Every shard of the engine (control connections), on the ring or not. */
  shards: readonly PostgresShard[];
  hasher: Hasher;
  /** Shards a rebalance may use: the engine's. */
  knownShards: readonly string[];
}

export interface ShardFigures {
  name: string;
  /** 0 for a shard that is not on the ring (still draining, or never added). */
  weight: number;
  onRing: boolean;
  /** Share of the hash circle. */
  ringShare: number;
  /** What the weights ask for. */
  idealShare: number;
  /** Accounts stored on the shard now; null when it could not be read. */
  keys: number | null;
  keyShare: number | null;
}

export interface SampleKey {
  key: string;
  hash: number;
  /** Where the current ring puts it. */
  owner: string;
  /** Where it is stored now (differs from owner while a rebalance has not reached it). */
  at: string;
}

export interface RunView {
  id: string;
  fromVersion: number;
  toVersion: number;
  status: RebalanceStatus;
  total: number | null;
  moved: number;
  skipped: number;
  cursor: string | null;
  lastError: string | null;
  createdBy: string;
  reason: string;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  finishedAt: string | null;
  statusBy: string | null;
  statusNote: string | null;
  /** An executor holds the run and its lease is current. */
  executing: boolean;
}

export interface RingOverview {
  version: number;
  createdAt: string;
  createdBy: string;
  reason: string;
  vnodesPerWeight: number;
  pointCount: number;
  members: RingMember[];
  /** One range per virtual node (the arc that ends at its point), plus the arc past the last point. */
  ranges: RingRange[];
  shards: ShardFigures[];
  imbalance: { ring: number; keys: number | null };
  totalKeys: number;
  samples: SampleKey[];
  /** The unfinished run, else the latest one. */
  run: RunView | null;
  runs: RunView[];
  knownShards: string[];
}

export interface WhatIfView extends WhatIfResult {
  fromVersion: number;
  change: RingChangeInput;
  description: string;
  /** Whether a rebalance could apply this change now; if not, why. */
  applicable: boolean;
  blockedBy: string | null;
}

/** Accounts 0..SAMPLE_IDS-1, wherever they are: spread around the circle by their hash. */
const SAMPLE_IDS = 48;
/** What-if counts moved keys over the real accounts, up to this many (a sample beyond it). */
const WHAT_IF_KEYS = 200_000;
/** SQLSTATE 42P01: no accounts table on that shard (the bank is not set up). */
const UNDEFINED_TABLE = "42P01";

export async function ringOverview(deps: RingViewDeps): Promise<RingOverview> {
  const current = await requireRing(deps);
  const ring = current.ring;
  const [counts, samples, runs, open] = await Promise.all([
    accountCounts(deps.shards),
    sampleLocations(deps.shards),
    listRebalanceRuns(deps.prisma, 10),
    unfinishedRun(deps.prisma),
  ]);
  const shares = ring.shares();
  const ideal = ring.idealShares();
  const totalKeys = [...counts.values()].reduce<number>((sum, n) => sum + (n ?? 0), 0);
  const names = [...new Set([...ring.shardNames, ...deps.shards.map((s) => s.name)])].sort();
  const shards: ShardFigures[] = names.map((name) => {
    const member = ring.members.find((m) => m.name === name);
    const keys = counts.get(name) ?? null;
    return {
      name,
      weight: member?.weight ?? 0,
      onRing: member !== undefined,
      ringShare: shares[name] ?? 0,
      idealShare: ideal[name] ?? 0,
      keys,
      keyShare: keys === null || totalKeys === 0 ? null : keys / totalKeys,
    };
  });
  return {
    version: current.version,
    createdAt: current.createdAt.toISOString(),
    createdBy: current.createdBy,
    reason: current.reason,
    vnodesPerWeight: current.vnodesPerWeight,
    pointCount: ring.pointCount,
    members: ring.members.map((m) => ({ ...m })),
    ranges: ring.ranges({ merge: false }),
    shards,
    imbalance: { ring: ring.imbalance(), keys: keyImbalance(shards) },
    totalKeys,
    samples: samples.map(({ key, at }) => ({ key, at, hash: ring.hash(key), owner: ring.lookup(key) })),
    run: open ? runView(open) : runs[0] ? runView(runs[0]) : null,
    runs: runs.map(runView),
    knownShards: [...deps.knownShards],
  };
}

/** Previews a change on the current ring; nothing is written. */
export async function ringWhatIf(deps: RingViewDeps, input: RingChangeInput): Promise<WhatIfView> {
  const current = await requireRing(deps);
  const change = toRingChange(input);
  const keys = await accountKeys(deps.shards, WHAT_IF_KEYS);
  const result = whatIf(current.ring, change, { keys });
  const blockedBy = await whyNotApplicable(deps, applyChange(current.members, change));
  return {
    ...result,
    fromVersion: current.version,
    change: input,
    description: describeChange(input),
    applicable: blockedBy === null,
    blockedBy: blockedBy?.message ?? null,
  };
}

/** Why a rebalance to `members` cannot start now, as the error it would get; null if it can. */
export async function whyNotApplicable(deps: RingViewDeps, members: readonly RingMember[]): Promise<CohortError | null> {
  const unknown = unknownShards(members, deps.knownShards);
  if (unknown.length > 0) {
    const known = deps.knownShards.join(", ");
    const what = unknown.length === 1 ? "is not a shard" : "are not shards";
    return new CohortError("UNKNOWN_SHARD", `${unknown.join(", ")} ${what} the engine knows (known: ${known})`, {
      details: { shards: unknown },
    });
  }
  const open = await unfinishedRun(deps.prisma);
  if (open) {
    return new CohortError("RING_CONFLICT", `rebalance ${open.id} is ${open.status}: finish it before changing the ring again`, {
      details: { reason: "rebalance-unfinished", runId: open.id },
    });
  }
  return null;
}

export function runView(run: RebalanceRunInfo): RunView {
  return {
    id: run.id,
    fromVersion: run.fromVersion,
    toVersion: run.toVersion,
    status: run.status,
    total: run.total,
    moved: run.moved,
    skipped: run.skipped,
    cursor: run.cursor,
    lastError: run.lastError,
    createdBy: run.createdBy,
    reason: run.reason,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    updatedAt: run.updatedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    statusBy: run.statusBy,
    statusNote: run.statusNote,
    executing: run.ownerId !== null && run.leaseExpiresAt !== null && run.leaseExpiresAt.getTime() > Date.now(),
  };
}

async function requireRing(deps: RingViewDeps): Promise<RingSnapshot> {
  const current = await loadRing(deps.prisma, deps.hasher);
  if (!current) throw new CohortError("NOT_FOUND", "there is no ring yet: the engine creates it when it starts");
  return current;
}

/** Max over mean of the accounts per shard, each relative to its weight; null without accounts. */
function keyImbalance(shards: readonly ShardFigures[]): number | null {
  const onRing = shards.filter((s) => s.onRing);
  const totalWeight = onRing.reduce((sum, s) => sum + s.weight, 0);
  const total = shards.reduce((sum, s) => sum + (s.keys ?? 0), 0);
  if (total === 0 || onRing.some((s) => s.keys === null)) return null;
  return Math.max(...onRing.map((s) => s.keys! / total / (s.weight / totalWeight)));
}

async function accountCounts(shards: readonly PostgresShard[]): Promise<Map<string, number | null>> {
  const counts = await Promise.all(
    shards.map(async (s) => {
      const rows = await bankQuery<{ n: string }>(s, "SELECT count(*) AS n FROM accounts").catch(() => null);
      return [s.name, rows === null ? null : Number(rows[0]?.n ?? 0)] as const;
    }),
  );
  return new Map(counts);
}

async function sampleLocations(shards: readonly PostgresShard[]): Promise<{ key: string; at: string }[]> {
  const found = await Promise.all(
    shards.map(async (s) => {
      const rows = await bankQuery<{ id: string }>(s, "SELECT id FROM accounts WHERE id < $1 ORDER BY id", [SAMPLE_IDS]).catch(
        () => [],
      );
      return rows.map((r) => ({ key: r.id, at: s.name }));
    }),
  );
  return found.flat().sort((a, b) => Number(a.key) - Number(b.key));
}

async function accountKeys(shards: readonly PostgresShard[], limit: number): Promise<string[]> {
  const pages = await Promise.all(
    shards.map((s) => bankQuery<{ id: string }>(s, "SELECT id FROM accounts ORDER BY id LIMIT $1", [limit])),
  );
  return [...new Set(pages.flat().map((r) => r.id))].slice(0, limit);
}

/** A query on the bank's tables; a shard without them has no accounts. */
async function bankQuery<R extends Record<string, unknown>>(shard: PostgresShard, sql: string, values?: unknown[]): Promise<R[]> {
  try {
    return (await shard.query<R>(sql, values)).rows;
  } catch (err) {
    if ((err as { code?: string }).code === UNDEFINED_TABLE) return [];
    throw err;
  }
}
