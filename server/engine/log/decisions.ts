// The ABORT decision: one compare-and-set under one rule (states.ts `mayAbort`), whoever
// decides it: the coordinator, recovery, or an operator's force-abort (operatorDecisions.ts).
import { named, sql, type SqlQuery } from "../../db/sql";
import { execute, jsonParam as json, type LogDb } from "./db";
import { mayAbortSql } from "./stateSql";

export interface Vote {
  shard: string;
  yes: boolean;
  error?: string;
}

export interface AbortDecision {
  id: string;
  /** The owner the compare-and-set expects; null means whoever owns it (operators, recovery after claiming). */
  coordinatorId: string | null;
  /**
   * Clears coordinator_id with the decision: whoever drove the transaction loses its claim,
   * and a hung coordinator that wakes up fails its own commit-point compare-and-set.
   */
  releaseOwner?: boolean;
  /** Stored as the transaction's abort_reason. */
  reason: string;
  votes?: Vote[];
  actor: string;
  /** Type of the decision's timeline record; "decision" unless told. */
  recordType?: string;
  /** Data of the decision's timeline record; `{ decision: "ABORT", reason }` unless told. */
  record?: unknown;
}

function abortStatement(tx: AbortDecision): SqlQuery {
  const votes = tx.votes ?? [];
  const record = tx.record ?? { decision: "ABORT", reason: tx.reason };
  return sql`
      WITH t AS (
        UPDATE transactions SET status = 'ABORTING', decision = 'ABORT', decided_at = now(), updated_at = now(),
          abort_reason = ${tx.reason}, outbox_events = NULL${tx.releaseOwner ? sql`, coordinator_id = NULL` : sql``}
        WHERE id = ${tx.id}::uuid AND ${mayAbortSql()}
          AND (${tx.coordinatorId}::uuid IS NULL OR coordinator_id = ${tx.coordinatorId}::uuid)
        RETURNING id),
      vv AS (
        SELECT * FROM unnest(${votes.map((v) => v.shard)}::text[], ${votes.map((v) => v.yes)}::boolean[],
          ${votes.map((v) => v.error ?? "")}::text[]) AS x(shard, yes, error)),
      b AS (
        UPDATE branches SET
          status = CASE WHEN vv.yes THEN 'PREPARED'::"BranchStatus" ELSE 'FAILED'::"BranchStatus" END,
          vote = vv.yes,
          prepared_at = CASE WHEN vv.yes THEN now() END,
          last_error = NULLIF(vv.error, '')
        FROM vv WHERE branches.tx_id IN (SELECT id FROM t) AND branches.shard = vv.shard),
      r AS (
        SELECT 1 AS ord, t.id, 'vote' AS type, vv.shard, jsonb_build_object('yes', vv.yes, 'error', NULLIF(vv.error, '')) AS data
        FROM t, vv
        UNION ALL
        SELECT 2, id, ${tx.recordType ?? "decision"}, NULL, ${json(record)}::jsonb FROM t)
      INSERT INTO tx_log (tx_id, type, actor, shard, data)
      SELECT id, type, ${tx.actor}, shard, data FROM r ORDER BY ord, shard`;
}

/**
 * Logs an ABORT decision if the abort rule allows it; false when it does not (decided,
 * past the commit point, ended) or the transaction is not `coordinatorId`'s. Not forced:
 * under presumed abort a lost abort record reads as abort anyway. The votes, when given,
 * are recorded on the branches and in the timeline in the same statement.
 */
export async function decideAbort(db: LogDb, tx: AbortDecision): Promise<boolean> {
  const n = await execute(db, named(tx.releaseOwner ? "cohort.decide-abort-release" : "cohort.decide-abort", abortStatement(tx)));
  return n > 0;
}
