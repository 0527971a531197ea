// The operator's writes to the log (DESIGN.md §2 "Operator guards"): forced decisions, and
// the nudges that hand a decided transaction back to phase two. server/ops/actions.ts keeps
// the guards and the audit flow around them. A forced decision clears coordinator_id, so a
// hung coordinator that wakes up fails its own compare-and-set.
import type { Prisma } from "@prisma/client";
import { sql } from "../../db/sql";
import { OUTBOX_FROM_DECISION } from "./coordinatorLog";
import { execute, type LogDb } from "./db";
import { decideAbort } from "./decisions";

/**
 * The operator's ABORT: the engine's abort compare-and-set (one rule, states.ts `mayAbort`)
 * on whoever owns the transaction, taking it from its owner. Runs in `db`, the operator's
 * database transaction, so the decision and its audit record commit together.
 * False when the rule refused.
 */
export function forceAbortDecision(
  db: Prisma.TransactionClient,
  rec: { txId: string; reason: string; operatorReason: string; actor: string },
): Promise<boolean> {
  return decideAbort(db, {
    id: rec.txId,
    coordinatorId: null,
    releaseOwner: true,
    reason: rec.reason,
    actor: rec.actor,
    record: { decision: "ABORT", forced: true, reason: rec.operatorReason },
  });
}

/**
 * The operator's COMMIT: the same decision the engine writes, outbox events included
 * (logged with PREPARING), so a transaction committed by an operator publishes exactly what
 * its coordinator would have. Only a PREPARING transaction with no decision; the caller has
 * checked that every branch voted yes. False when the compare-and-set lost.
 */
export async function forceCommitDecision(
  db: Prisma.TransactionClient,
  rec: { txId: string; shards: string[]; actor: string },
): Promise<boolean> {
  const votes = Object.fromEntries(rec.shards.map((s) => [s, "yes"]));
  const n = await execute(
    db,
    sql`
      WITH t AS (
        UPDATE transactions tx SET status = 'COMMITTING', decision = 'COMMIT', decided_at = now(), updated_at = now(),
          coordinator_id = NULL, outbox_events = NULL
        FROM transactions o
        WHERE o.id = tx.id AND tx.id = ${rec.txId}::uuid AND tx.status = 'PREPARING' AND tx.decision IS NULL AND NOT tx.one_phase
          AND tx.ended_at IS NULL
        RETURNING tx.id, o.outbox_events),
      b AS (
        UPDATE branches SET status = 'PREPARED', vote = true, prepared_at = now() WHERE tx_id IN (SELECT id FROM t)),
      ${OUTBOX_FROM_DECISION}
      INSERT INTO tx_log (tx_id, type, actor, data)
      SELECT id, 'decision', ${rec.actor}, ${JSON.stringify({ decision: "COMMIT", forced: true, votes })}::jsonb FROM t`,
  );
  return n > 0;
}

/** "Retry now": every unresolved branch of the transaction is due for phase two at once. */
export async function retryBranchesNow(db: LogDb, txId: string): Promise<void> {
  await execute(db, sql`UPDATE branches SET next_retry_at = now() WHERE tx_id = ${txId}::uuid AND resolved_at IS NULL`);
}

/**
 * Leaves an unfinished transaction without an owner, so the next live engine instance takes
 * it over within a heartbeat (a console with no engine of its own after a decision).
 */
export async function releaseOwnership(db: LogDb, txId: string): Promise<void> {
  await execute(db, sql`UPDATE transactions SET coordinator_id = NULL WHERE id = ${txId}::uuid AND ended_at IS NULL`);
}
