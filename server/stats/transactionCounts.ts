// Transaction counts for the Overview. One statement, so every number comes from the same
// snapshot and a transaction moving from COMMITTING to COMMITTED is counted exactly once.
import type { PrismaClient } from "../db/prisma";
import type { TxStatus } from "../live/events";

export type OpenTxStatus = Exclude<TxStatus, "COMMITTED" | "ABORTED">;
export type FinishedTxStatus = Extract<TxStatus, "COMMITTED" | "ABORTED">;

export const RECENT_WINDOW_SECONDS = 300;

export interface FinishedCount {
  /** Ended within the last RECENT_WINDOW_SECONDS (by ended_at). */
  recent: number;
  total: number;
}

export interface TransactionCounts {
  /** ISO time the counts were taken. */
  at: string;
  windowSeconds: number;
  open: Record<OpenTxStatus, number>;
  finished: Record<FinishedTxStatus, FinishedCount>;
}

interface CountRow {
  status: TxStatus;
  // count(*) is bigint; how it arrives depends on the driver adapter's mapping.
  total: bigint | number;
  recent: bigint | number;
}

export async function getTransactionCounts(prisma: PrismaClient): Promise<TransactionCounts> {
  // The first branch repeats the partial index's predicate verbatim so the planner can
  // use transactions_open_by_coordinator_idx: unfinished transactions are a tiny share
  // of the log. The finished totals are a count(*) over the rest for now; the recent
  // window rides along in the same pass because that scan is paid for anyway.
  const rows = await prisma.$queryRaw<CountRow[]>`
    SELECT status, count(*) AS total, 0::bigint AS recent
      FROM transactions
     WHERE ended_at IS NULL
     GROUP BY status
    UNION ALL
    SELECT status, count(*) AS total,
           count(*) FILTER (WHERE ended_at >= now() - make_interval(secs => ${RECENT_WINDOW_SECONDS})) AS recent
      FROM transactions
     WHERE status IN ('COMMITTED', 'ABORTED')
     GROUP BY status`;

  const counts: TransactionCounts = {
    at: new Date().toISOString(),
    windowSeconds: RECENT_WINDOW_SECONDS,
    open: { ACTIVE: 0, PREPARING: 0, COMMITTING: 0, ABORTING: 0 },
    finished: { COMMITTED: { recent: 0, total: 0 }, ABORTED: { recent: 0, total: 0 } },
  };
  for (const row of rows) {
    if (row.status === "COMMITTED" || row.status === "ABORTED") {
      counts.finished[row.status] = { recent: Number(row.recent), total: Number(row.total) };
    } else {
      counts.open[row.status] = Number(row.total);
    }
  }
  return counts;
}
