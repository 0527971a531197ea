// Rebalance runs in PostgreSQL: status, counters, cursor and the executor's lease. Every
// write an executor makes is guarded by its owner id, so an executor that stalled past its
// lease and was replaced can no longer move the cursor (it would move it backwards).
import type { Prisma } from "@prisma/client";
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import { publishEvent, type RebalanceStatus } from "../live/events";
import type { ChangeMeta, RingStoreDeps } from "./ringStore";

export type { RebalanceStatus };

const runSelect = {
  id: true,
  fromVersion: true,
  toVersion: true,
  status: true,
  total: true,
  moved: true,
  skipped: true,
  cursor: true,
  ownerId: true,
  leaseExpiresAt: true,
  lastError: true,
  createdAt: true,
  createdBy: true,
  reason: true,
  startedAt: true,
  updatedAt: true,
  finishedAt: true,
  statusBy: true,
  statusNote: true,
} satisfies Prisma.RebalanceRunSelect;

export type RebalanceRunInfo = Prisma.RebalanceRunGetPayload<{ select: typeof runSelect }>;

export async function getRebalanceRun(prisma: PrismaClient, runId: string): Promise<RebalanceRunInfo | null> {
  return prisma.rebalanceRun.findUnique({ where: { id: runId }, select: runSelect });
}

/** Newest first. */
export async function listRebalanceRuns(prisma: PrismaClient, limit = 20): Promise<RebalanceRunInfo[]> {
  return prisma.rebalanceRun.findMany({ orderBy: { createdAt: "desc" }, take: limit, select: runSelect });
}

/** The run routing must follow, if any (a unique index allows at most one). */
export async function unfinishedRun(prisma: PrismaClient): Promise<RebalanceRunInfo | null> {
  return prisma.rebalanceRun.findFirst({ where: { status: { not: "DONE" } }, select: runSelect });
}

export function rebalanceEvent(
  run: Pick<RebalanceRunInfo, "id" | "toVersion" | "moved" | "skipped" | "total" | "cursor" | "status">,
) {
  return {
    v: 1 as const,
    type: "ring.rebalance" as const,
    runId: run.id,
    version: run.toVersion,
    moved: run.moved,
    skipped: run.skipped,
    total: run.total,
    cursor: run.cursor,
    status: run.status,
    at: Date.now(),
  };
}

/**
 * Stops a running run between two keys: its executor sees the flag on its next progress
 * write, records where it got to and lets go. Routing stays split at the cursor, which is
 * correct for as long as needed; resumeRebalance continues from there.
 */
export async function cancelRebalance(deps: RingStoreDeps, runId: string, meta: ChangeMeta): Promise<RebalanceRunInfo> {
  return changeStatus(deps, runId, meta, ["RUNNING"], "CANCELLED");
}

/** Makes a cancelled or failed run RUNNING again; the caller then starts runRebalance on it. */
export async function resumeRebalance(deps: RingStoreDeps, runId: string, meta: ChangeMeta): Promise<RebalanceRunInfo> {
  return changeStatus(deps, runId, meta, ["CANCELLED", "FAILED"], "RUNNING");
}

async function changeStatus(
  deps: RingStoreDeps,
  runId: string,
  meta: ChangeMeta,
  fromStatuses: RebalanceStatus[],
  to: RebalanceStatus,
): Promise<RebalanceRunInfo> {
  const actor = meta.actor.trim();
  const reason = meta.reason.trim();
  if (!actor || !reason) throw new CohortError("BAD_REQUEST", "changing a rebalance run needs an actor and a reason");
  // Resuming clears the owner: a cancelled run's executor has let go (or is dead).
  const { count } = await deps.prisma.rebalanceRun.updateMany({
    where: { id: runId, status: { in: fromStatuses } },
    data: {
      status: to,
      statusBy: actor,
      statusNote: reason,
      updatedAt: new Date(),
      ...(to === "RUNNING" ? { ownerId: null, leaseExpiresAt: null, lastError: null } : {}),
    },
  });
  const run = await getRebalanceRun(deps.prisma, runId);
  if (!run) throw new CohortError("NOT_FOUND", `no rebalance run ${runId}`);
  if (count === 0) {
    throw new CohortError(
      "RING_CONFLICT",
      `rebalance run ${runId} is ${run.status}; only a ${fromStatuses.join(" or ")} run can become ${to}`,
      {
        details: { reason: "run-status", runId, status: run.status },
      },
    );
  }
  await publishEvent(deps.redis, deps.namespace, rebalanceEvent(run)).catch(() => undefined);
  return run;
}

// ---- executor side (rebalanceRunner.ts) ----

/**
 * Takes a RUNNING run whose owner is absent, is us, or let its lease lapse. Null when the
 * run is missing, not RUNNING, or held by a live executor.
 */
export async function claimRun(
  prisma: PrismaClient,
  runId: string,
  ownerId: string,
  leaseMs: number,
): Promise<RebalanceRunInfo | null> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    UPDATE rebalance_runs
    SET owner_id = ${ownerId}, lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000}),
      started_at = coalesce(started_at, now()), updated_at = now()
    WHERE id = ${runId}::uuid AND status = 'RUNNING'
      AND (owner_id IS NULL OR owner_id = ${ownerId} OR lease_expires_at < now())
    RETURNING id::text`;
  return rows.length ? getRebalanceRun(prisma, runId) : null;
}

/**
 * Records that every key up to `cursor` is at its new owner, adds to the counters and
 * renews the lease. Deliberately not conditional on the status: a key moved just before a
 * cancel must still be recorded, or routing would send readers to where it was. Returns
 * the run's status, which is how a cancel reaches the executor, or null if the run is no
 * longer ours.
 */
export async function recordProgress(
  prisma: PrismaClient,
  runId: string,
  ownerId: string,
  leaseMs: number,
  step: { cursor: string | null; moved?: number; skipped?: number },
): Promise<RebalanceStatus | null> {
  const rows = await prisma.$queryRaw<{ status: RebalanceStatus }[]>`
    UPDATE rebalance_runs
    SET cursor = ${step.cursor}, moved = moved + ${step.moved ?? 0}::int, skipped = skipped + ${step.skipped ?? 0}::int,
      lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000}), updated_at = now()
    WHERE id = ${runId}::uuid AND owner_id = ${ownerId}
    RETURNING status::text AS status`;
  return rows[0]?.status ?? null;
}

export async function setTotal(prisma: PrismaClient, runId: string, ownerId: string, total: number): Promise<boolean> {
  const { count } = await prisma.rebalanceRun.updateMany({
    where: { id: runId, ownerId },
    data: { total, updatedAt: new Date() },
  });
  return count === 1;
}

/** Status and lease only; null if the run is no longer ours. */
export async function renewLease(
  prisma: PrismaClient,
  runId: string,
  ownerId: string,
  leaseMs: number,
): Promise<RebalanceStatus | null> {
  const rows = await prisma.$queryRaw<{ status: RebalanceStatus }[]>`
    UPDATE rebalance_runs SET lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000})
    WHERE id = ${runId}::uuid AND owner_id = ${ownerId}
    RETURNING status::text AS status`;
  return rows[0]?.status ?? null;
}

/**
 * Ends our hold on the run. DONE also from CANCELLED: when the last key has moved the run
 * is complete whatever was asked meanwhile. FAILED only from RUNNING (a cancel that came
 * first stands), with the error kept for the console. KEEP just lets go (shutdown, cancel).
 */
export async function releaseRun(
  prisma: PrismaClient,
  runId: string,
  ownerId: string,
  end: { status: "DONE" } | { status: "FAILED"; error: string } | { status: "KEEP" },
): Promise<RebalanceRunInfo | null> {
  const error = end.status === "FAILED" ? end.error.slice(0, 2000) : null;
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    UPDATE rebalance_runs SET owner_id = NULL, lease_expires_at = NULL, updated_at = now(),
      status = (CASE
        WHEN ${end.status}::text = 'DONE' THEN 'DONE'
        WHEN ${end.status}::text = 'FAILED' AND status = 'RUNNING' THEN 'FAILED'
        ELSE status::text END)::"RebalanceStatus",
      finished_at = CASE WHEN ${end.status}::text = 'DONE' THEN now() ELSE finished_at END,
      last_error = CASE WHEN ${end.status}::text = 'FAILED' THEN ${error}::text ELSE last_error END
    WHERE id = ${runId}::uuid AND owner_id = ${ownerId}
    RETURNING id::text`;
  return rows.length ? getRebalanceRun(prisma, runId) : null;
}
