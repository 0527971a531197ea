// Bulk resolution, for the day a shard comes back with 10,000 prepared transactions: select
// in-doubt transactions by filter, show the count, and act only when the operator confirms
// that same count (the set may have changed between the two clicks).
import { CohortError, errorMessage, isCohortError } from "../errors";
import { forceAbort, retryNow, type OpsDeps, type Operator } from "./actions";
import { listInDoubt, type InDoubtFilter } from "./inDoubt";
import { mapLimit } from "../engine/recovery";
import { mayAbort } from "../engine/log/states";

export const BULK_LIMIT = 20_000;

export type BulkAction = "retry" | "force-abort";

export interface BulkRequest {
  filter: InDoubtFilter;
  action: BulkAction;
  reason: string;
  operator: Operator;
  /** Without it the call only counts; with it the count must match what is selected now. */
  confirmCount?: number;
}

export interface BulkResult {
  matched: number;
  applied: boolean;
  done: number;
  already: number;
  refused: number;
  failed: number;
  errors: string[];
}

export async function bulkResolve(deps: OpsDeps, req: BulkRequest): Promise<BulkResult> {
  // Force-commit is never offered in bulk: each one needs its own check of every shard's vote.
  const candidates = await listInDoubt(deps.prisma, { ...req.filter, limit: BULK_LIMIT });
  // Retry only makes sense with a decision; force-abort only where the abort rule allows it.
  const matched = candidates.filter((t) => (req.action === "retry" ? t.decision !== null : mayAbort(t)));
  const result: BulkResult = { matched: matched.length, applied: false, done: 0, already: 0, refused: 0, failed: 0, errors: [] };
  if (req.confirmCount === undefined) return result;
  if (req.confirmCount !== matched.length) {
    throw new CohortError(
      "DECISION_CONFLICT",
      `the selection changed: ${matched.length} transactions match now, not ${req.confirmCount}; review and confirm again`,
      {
        details: { matched: matched.length },
      },
    );
  }
  const act = req.action === "retry" ? retryNow : forceAbort;
  await mapLimit(matched, 8, async (tx) => {
    try {
      const r = await act(deps, { txId: tx.id, operator: req.operator, reason: `${req.reason} (bulk ${req.action})` });
      if (r.outcome === "done") result.done++;
      else result.already++;
    } catch (err) {
      // As in the audit trail: what the guards said, but never an internal error's own words.
      const refused = isCohortError(err) && err.expose;
      if (refused) result.refused++;
      else result.failed++;
      if (result.errors.length < 20) {
        result.errors.push(`${tx.id}: ${refused ? errorMessage(err) : "internal error (see the console's log)"}`);
      }
      if (!refused) console.error(`[ops] bulk ${req.action} of ${tx.id} failed:`, err);
    }
  });
  result.applied = true;
  return result;
}
