// Typed reads of the coordinator log that the engine and the console share.
import type { PrismaClient } from "../../db/prisma";
import { named, sql } from "../../db/sql";
import { queryRows, type LogDb } from "./db";
import type { BranchStatus, Decision, TxStatus } from "./states";

export interface TxRow {
  id: string;
  label: string;
  status: TxStatus;
  decision: Decision | null;
  coordinatorId: string | null;
  deadlineAt: Date;
  abortReason: string | null;
  /** A one-phase commit; undecided (PREPARING) it is in doubt and its shard knows the outcome. */
  onePhase: boolean;
}

export interface BranchRow {
  shard: string;
  status: BranchStatus;
  vote: boolean | null;
  attempts: number;
}

/** A transaction's row and its branches; null when the log has no record of it. */
export function readTransaction(prisma: PrismaClient, id: string): Promise<(TxRow & { branches: BranchRow[] }) | null> {
  return prisma.transaction.findUnique({
    where: { id },
    select: {
      id: true,
      label: true,
      status: true,
      decision: true,
      coordinatorId: true,
      deadlineAt: true,
      abortReason: true,
      onePhase: true,
      branches: { select: { shard: true, status: true, vote: true, attempts: true } },
    },
  });
}

export type BranchState = {
  status: TxStatus;
  decision: Decision | null;
  ended: boolean;
  /** Null when the transaction has no branch on that shard. */
  branch: BranchStatus | null;
};

/**
 * What a delivery of one branch's outcome must know first, the phase-2 queue's and an
 * operator's requeue alike; null when the log has no record of the transaction.
 */
export async function branchState(db: LogDb, txId: string, shard: string): Promise<BranchState | null> {
  const rows = await queryRows<BranchState>(
    db,
    named(
      "cohort.branch-state",
      sql`
      SELECT t.status::text AS status, t.decision::text AS decision, t.ended_at IS NOT NULL AS ended, b.status::text AS branch
      FROM transactions t LEFT JOIN branches b ON b.tx_id = t.id AND b.shard = ${shard}
      WHERE t.id = ${txId}::uuid`,
    ),
  );
  return rows[0] ?? null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Of `ids`, the transactions with an open row in the log (no end record yet): recovery still
 * has to finish them. Ids that are not transaction ids have no row.
 */
export async function openTransactionIds(db: LogDb, ids: string[]): Promise<Set<string>> {
  const txIds = ids.filter((id) => UUID.test(id));
  if (txIds.length === 0) return new Set();
  const rows = await queryRows<{ id: string }>(
    db,
    sql`SELECT id::text FROM transactions WHERE id = ANY(${txIds}::uuid[]) AND ended_at IS NULL`,
  );
  // id::text is lower case; give back the caller's spelling.
  const open = new Set(rows.map((r) => r.id));
  return new Set(txIds.filter((id) => open.has(id.toLowerCase())));
}
