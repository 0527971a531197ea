// One transaction as the detail page shows it: the row, its branches, its timeline from
// the coordinator log and whether it is in doubt, plus what the operator guards allow.
import type { PrismaClient } from "../db/prisma";
import { allowedActions } from "../ops/guards";
import { DEFAULT_IN_DOUBT_MS } from "../ops/inDoubt";
import { isInDoubtState } from "../engine/log/states";
import { branchAsLogged, withRowRecords } from "./rowRecords";
import type { BranchStatus, Decision, InDoubtInfo, TxDetail, TxStatus } from "./types";

/**
 * Phase-two retries against an unreachable shard append a record per attempt, so a long
 * outage could make the timeline unbounded; the newest records are the ones that explain
 * the present, and the begin record is always in the row itself.
 */
export const TIMELINE_LIMIT = 500;

export async function getTransactionDetail(prisma: PrismaClient, id: string, now = new Date()): Promise<TxDetail | null> {
  const [tx, records] = await Promise.all([
    prisma.transaction.findUnique({
      where: { id },
      select: {
        id: true,
        label: true,
        status: true,
        decision: true,
        coordinatorId: true,
        startedAt: true,
        deadlineAt: true,
        preparedAt: true,
        onePhase: true,
        decidedAt: true,
        endedAt: true,
        updatedAt: true,
        abortReason: true,
        branches: {
          orderBy: { shard: "asc" },
          select: {
            shard: true,
            gid: true,
            status: true,
            vote: true,
            attempts: true,
            lastError: true,
            nextRetryAt: true,
            preparedAt: true,
            resolvedAt: true,
          },
        },
      },
    }),
    // Newest first with a limit (served by tx_log_tx_id_id_idx backwards), reversed below.
    prisma.logRecord.findMany({
      where: { txId: id },
      orderBy: { id: "desc" },
      take: TIMELINE_LIMIT + 1,
      select: { id: true, at: true, type: true, actor: true, shard: true, data: true },
    }),
  ]);
  if (!tx) return null;

  const timelineTruncated = records.length > TIMELINE_LIMIT;
  const written = records
    .slice(0, TIMELINE_LIMIT)
    .reverse()
    .map((r) => ({ id: r.id.toString(), at: r.at.toISOString(), type: r.type, actor: r.actor, shard: r.shard, data: r.data }));
  const timeline = withRowRecords(
    tx,
    tx.branches.map((b) => b.shard),
    written,
  );
  const branches = tx.branches.map((b) => branchAsLogged(tx.decision, tx.decidedAt, b));
  const iso = (d: Date | null) => d?.toISOString() ?? null;

  return {
    id: tx.id,
    label: tx.label,
    status: tx.status as TxStatus,
    decision: tx.decision as Decision | null,
    coordinatorId: tx.coordinatorId,
    startedAt: tx.startedAt.toISOString(),
    deadlineAt: tx.deadlineAt.toISOString(),
    decidedAt: iso(tx.decidedAt),
    endedAt: iso(tx.endedAt),
    updatedAt: tx.updatedAt.toISOString(),
    abortReason: tx.abortReason,
    branches: branches.map((b) => ({
      shard: b.shard,
      gid: b.gid,
      status: b.status as BranchStatus,
      vote: b.vote,
      attempts: b.attempts,
      lastError: b.lastError,
      nextRetryAt: iso(b.nextRetryAt),
      preparedAt: iso(b.preparedAt),
      resolvedAt: iso(b.resolvedAt),
    })),
    timeline,
    timelineTruncated,
    inDoubt: inDoubtInfo(tx, now),
    actions: allowedActions({ status: tx.status, decision: tx.decision, endedAt: tx.endedAt, onePhase: tx.onePhase, branches }),
    at: now.toISOString(),
  };
}

/**
 * The same rule as the in-doubt list (server/ops/inDoubt.ts): unfinished, past the point
 * where branches may be prepared, and no state change logged for longer than the threshold.
 */
export function inDoubtInfo(
  tx: { status: string; endedAt: Date | null; updatedAt: Date },
  now: Date,
  thresholdMs = DEFAULT_IN_DOUBT_MS,
): InDoubtInfo {
  const stalledMs = Math.max(0, now.getTime() - tx.updatedAt.getTime());
  return {
    inDoubt: tx.endedAt === null && isInDoubtState(tx.status) && stalledMs > thresholdMs,
    lastProgressAt: tx.updatedAt.toISOString(),
    stalledSeconds: Math.floor(stalledMs / 1000),
    thresholdSeconds: thresholdMs / 1000,
  };
}
