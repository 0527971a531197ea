import type { Prisma } from "@prisma/client";
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import { branchAsLogged } from "../transactions/rowRecords";

/** What an operator action records as "before" and "after". */
export interface TxSnapshot {
  id: string;
  label: string;
  status: string;
  decision: string | null;
  coordinatorId: string | null;
  endedAt: Date | null;
  abortReason: string | null;
  /** A one-phase commit (when undecided: in doubt, the shard decides). */
  onePhase: boolean;
  branches: { shard: string; status: string; vote: boolean | null; attempts: number; lastError: string | null }[];
}

export async function readSnapshot(prisma: PrismaClient | Prisma.TransactionClient, txId: string): Promise<TxSnapshot> {
  const row = await prisma.transaction.findUnique({
    where: { id: txId },
    select: {
      id: true,
      label: true,
      status: true,
      decision: true,
      coordinatorId: true,
      endedAt: true,
      decidedAt: true,
      abortReason: true,
      onePhase: true,
      branches: { select: { shard: true, status: true, vote: true, attempts: true, lastError: true }, orderBy: { shard: "asc" } },
    },
  });
  if (!row) throw new CohortError("NOT_FOUND", `no transaction ${txId} in the coordinator log`, { details: { txId } });
  const { decidedAt, ...rest } = row;
  return { ...rest, branches: row.branches.map((b) => branchAsLogged(row.decision, decidedAt, b)) };
}
