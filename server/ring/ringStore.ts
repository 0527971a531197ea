// Ring versions in PostgreSQL (DESIGN.md §5): every process builds its ring from the
// highest version, so all of them route alike. A version is written by compare-and-set on
// the version number and, from the second one on, together with the rebalance run that
// moves keys to it, in one statement: no process can see the new ring without the run
// that tells it which keys have not moved yet.
import type { Prisma } from "@prisma/client";
import type { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { PrismaClient } from "../db/prisma";
import { CohortError, isCohortError } from "../errors";
import { publishEvent } from "../live/events";
import {
  DEFAULT_VNODES_PER_WEIGHT,
  HashRing,
  checkVnodesPerWeight,
  normalizeMembers,
  type Hasher,
  type RingMember,
} from "./hashRing";

export interface RingStoreDeps {
  prisma: PrismaClient;
  redis: Redis;
  /** The deployment namespace: ring events go to its events stream. */
  namespace: string;
}

export interface RingVersionInfo {
  version: number;
  members: RingMember[];
  vnodesPerWeight: number;
  createdAt: Date;
  createdBy: string;
  reason: string;
}

export interface RingSnapshot extends RingVersionInfo {
  ring: HashRing;
}

export interface ChangeMeta {
  actor: string;
  reason: string;
}

export interface SavedRingVersion {
  version: number;
  /** The run that moves keys to this version; null for the first version (nothing to move). */
  runId: string | null;
  /**
   * Stream id of the ring.changed event; null when it could not be appended (the version
   * is saved all the same, and processes see it on their next load).
   */
  eventId: string | null;
}

const versionSelect = {
  version: true,
  members: true,
  vnodesPerWeight: true,
  createdAt: true,
  createdBy: true,
  reason: true,
} satisfies Prisma.RingVersionSelect;

type VersionRow = Prisma.RingVersionGetPayload<{ select: typeof versionSelect }>;

// The column is jsonb: check its shape instead of trusting a cast.
const storedMembers = z.array(z.object({ name: z.string(), weight: z.number() }));

function toInfo(row: VersionRow): RingVersionInfo {
  const parsed = storedMembers.safeParse(row.members);
  if (!parsed.success) throw new CohortError("INTERNAL", `ring version ${row.version} has malformed members`);
  return {
    version: row.version,
    members: parsed.data,
    vnodesPerWeight: row.vnodesPerWeight,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    reason: row.reason,
  };
}

function snapshot(hasher: Hasher, info: RingVersionInfo): RingSnapshot {
  return { ...info, ring: new HashRing(hasher, { shards: info.members, vnodesPerWeight: info.vnodesPerWeight }) };
}

/** The current ring (highest version), or null before the first version is saved. */
export async function loadRing(prisma: PrismaClient, hasher: Hasher): Promise<RingSnapshot | null> {
  const row = await prisma.ringVersion.findFirst({ orderBy: { version: "desc" }, select: versionSelect });
  return row ? snapshot(hasher, toInfo(row)) : null;
}

export async function loadRingVersion(prisma: PrismaClient, hasher: Hasher, version: number): Promise<RingSnapshot | null> {
  const row = await prisma.ringVersion.findUnique({ where: { version }, select: versionSelect });
  return row ? snapshot(hasher, toInfo(row)) : null;
}

/** Newest first. */
export async function ringHistory(prisma: PrismaClient, limit = 50): Promise<RingVersionInfo[]> {
  const rows = await prisma.ringVersion.findMany({ orderBy: { version: "desc" }, take: limit, select: versionSelect });
  return rows.map(toInfo);
}

/**
 * Writes version expectedVersion+1 if and only if the current version is expectedVersion
 * (0: no ring yet) and no rebalance run is unfinished; otherwise RING_CONFLICT, and nothing
 * is written. Publishes ring.changed after the write.
 */
export async function saveRingVersion(
  deps: RingStoreDeps,
  members: readonly RingMember[],
  meta: ChangeMeta,
  expectedVersion: number,
  opts: { vnodesPerWeight?: number } = {},
): Promise<SavedRingVersion> {
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0)
    throw new CohortError("BAD_REQUEST", "expectedVersion must be an integer ≥ 0");
  const actor = meta.actor.trim();
  const reason = meta.reason.trim();
  if (!actor || !reason) throw new CohortError("BAD_REQUEST", "a ring change needs an actor and a reason");
  const vnodesPerWeight = checkVnodesPerWeight(opts.vnodesPerWeight ?? DEFAULT_VNODES_PER_WEIGHT);
  const sorted = normalizeMembers(members);

  const current = await deps.prisma.ringVersion.findFirst({ orderBy: { version: "desc" }, select: versionSelect });
  if (current && current.version === expectedVersion) {
    const info = toInfo(current);
    const same =
      info.vnodesPerWeight === vnodesPerWeight &&
      info.members.length === sorted.length &&
      info.members.every((m, i) => m.name === sorted[i]!.name && m.weight === sorted[i]!.weight);
    if (same) throw new CohortError("BAD_REQUEST", `ring version ${info.version} already has these members`);
  }

  const runId = uuidv7();
  // One statement: the CAS, the version and its run commit together or not at all. Two
  // racing writers both pass the WHERE; the primary key lets exactly one insert.
  const rows = await deps.prisma.$queryRaw<
    { version: number | null; run_id: string | null; current: number; open_run: string | null }[]
  >`
    WITH cur AS (SELECT coalesce(max(version), 0)::int AS v FROM ring_versions),
    open AS (SELECT id FROM rebalance_runs WHERE status <> 'DONE'),
    ins AS (
      INSERT INTO ring_versions (version, created_by, reason, members, vnodes_per_weight)
      SELECT ${expectedVersion + 1}::int, ${actor}, ${reason}, ${JSON.stringify(sorted)}::jsonb, ${vnodesPerWeight}::int FROM cur
      WHERE cur.v = ${expectedVersion}::int AND NOT EXISTS (SELECT 1 FROM open)
      ON CONFLICT (version) DO NOTHING
      RETURNING version),
    run AS (
      INSERT INTO rebalance_runs (id, from_version, to_version, created_by, reason)
      SELECT ${runId}::uuid, version - 1, version, ${actor}, ${reason} FROM ins WHERE version > 1
      RETURNING id)
    SELECT (SELECT version FROM ins) AS version, (SELECT id::text FROM run) AS run_id,
      (SELECT v FROM cur) AS current, (SELECT id::text FROM open LIMIT 1) AS open_run`;
  const row = rows[0]!;
  if (row.version === null) {
    if (row.open_run) {
      throw new CohortError(
        "RING_CONFLICT",
        `rebalance run ${row.open_run} is unfinished: resume it to completion before changing the ring again`,
        {
          details: { reason: "rebalance-unfinished", runId: row.open_run, currentVersion: row.current },
        },
      );
    }
    // current equals expectedVersion only when a racer's insert of the same version won.
    const currentVersion = row.current === expectedVersion ? expectedVersion + 1 : row.current;
    throw new CohortError(
      "RING_CONFLICT",
      `the ring is at version ${currentVersion}, not ${expectedVersion}: reload it and retry`,
      {
        details: { reason: "stale-version", expectedVersion, currentVersion },
      },
    );
  }
  const eventId = await publishEvent(deps.redis, deps.namespace, {
    v: 1,
    type: "ring.changed",
    version: row.version,
    runId: row.run_id,
    at: Date.now(),
  }).then(
    (id) => (typeof id === "string" ? id : null),
    () => null,
  );
  return { version: row.version, runId: row.run_id, eventId };
}

/**
 * The current ring, creating version 1 from `members` when there is none yet (process
 * start-up). Racing starters agree: the loser of the CAS reads the winner's version.
 */
export async function ensureRing(
  deps: RingStoreDeps,
  hasher: Hasher,
  members: readonly RingMember[],
  meta: ChangeMeta,
): Promise<RingSnapshot> {
  const existing = await loadRing(deps.prisma, hasher);
  if (existing) return existing;
  try {
    await saveRingVersion(deps, members, meta, 0);
  } catch (err) {
    if (!isCohortError(err, "RING_CONFLICT")) throw err;
  }
  const loaded = await loadRing(deps.prisma, hasher);
  if (!loaded) throw new CohortError("INTERNAL", "no ring version after creating the first one");
  return loaded;
}
