// Phase-2 progress in the log: branches reaching their outcome, failed attempts and their
// retry times, the phase-2 queue's marks, and the end record of an abort. The ownership
// rules differ on purpose: the coordinator's own rounds check that it still owns the
// transaction, while a queued delivery of a logged decision may be recorded by anyone.
import type pg from "pg";
import { named, sql } from "../../db/sql";
import { execute, jsonParam as json, type LogDb } from "./db";
import { deliveringSql, unresolvedBranchSql } from "./stateSql";

/** Phase-2 progress of some branches: successes, or a failed attempt with its retry time. */
export async function recordPhase2(
  db: LogDb,
  tx: {
    id: string;
    coordinatorId: string;
    done: { shard: string; status: "COMMITTED" | "ABORTED"; note?: string }[];
    failed: { shard: string; error: string; nextRetryAt: Date }[];
    actor: string;
  },
): Promise<boolean> {
  const n = await execute(
    db,
    named(
      "cohort.phase2",
      sql`
      WITH t AS (
        SELECT id, decision FROM transactions
        WHERE id = ${tx.id}::uuid AND coordinator_id = ${tx.coordinatorId}::uuid AND ${deliveringSql()}),
      d AS (
        UPDATE branches SET status = x.status::"BranchStatus", resolved_at = now(), attempts = attempts + 1,
          last_error = NULL, next_retry_at = NULL, vote = COALESCE(vote, x.status = 'COMMITTED')
        FROM unnest(${tx.done.map((d) => d.shard)}::text[], ${tx.done.map((d) => d.status)}::text[]) AS x(shard, status)
        WHERE branches.tx_id IN (SELECT id FROM t) AND branches.shard = x.shard),
      -- The lean COMMIT decision leaves branches ACTIVE (the decision means every vote was
      -- yes); on trouble the row says so itself: PREPARED, voted yes.
      f AS (
        UPDATE branches SET attempts = attempts + 1, last_error = x.error, next_retry_at = x.retry_at,
          status = CASE WHEN branches.status = 'ACTIVE' AND t.decision = 'COMMIT' THEN 'PREPARED' ELSE branches.status END,
          vote = CASE WHEN t.decision = 'COMMIT' THEN true ELSE branches.vote END,
          prepared_at = CASE WHEN t.decision = 'COMMIT' THEN COALESCE(branches.prepared_at, now()) ELSE branches.prepared_at END
        FROM t, unnest(${tx.failed.map((f) => f.shard)}::text[], ${tx.failed.map((f) => f.error)}::text[],
          ${tx.failed.map((f) => f.nextRetryAt.toISOString())}::timestamptz[]) AS x(shard, error, retry_at)
        WHERE branches.tx_id = t.id AND branches.shard = x.shard),
      l1 AS (
        INSERT INTO tx_log (tx_id, type, actor, shard, data)
        SELECT t.id, 'phase2.done', ${tx.actor}, x.shard, jsonb_build_object('status', x.status, 'note', NULLIF(x.note, ''))
        FROM t, unnest(${tx.done.map((d) => d.shard)}::text[], ${tx.done.map((d) => d.status)}::text[],
          ${tx.done.map((d) => d.note ?? "")}::text[]) AS x(shard, status, note))
      INSERT INTO tx_log (tx_id, type, actor, shard, data)
      SELECT t.id, 'phase2.error', ${tx.actor}, x.shard, jsonb_build_object('error', x.error, 'nextRetryAt', x.retry_at)
      FROM t, unnest(${tx.failed.map((f) => f.shard)}::text[], ${tx.failed.map((f) => f.error)}::text[],
        ${tx.failed.map((f) => f.nextRetryAt.toISOString())}::text[]) AS x(shard, error, retry_at)`,
    ),
  );
  // n counts the log rows written; zero with something to write means the tx is not ours.
  return n > 0 || (tx.done.length === 0 && tx.failed.length === 0);
}

/**
 * The end record of an abort: ABORTING → ABORTED, with every branch not yet resolved
 * set to ABORTED (branches that voted no stay FAILED). The branches resolved by this last
 * round are listed in the end record's data.
 */
export async function finishAborted(
  db: LogDb,
  tx: { id: string; coordinatorId: string; doneShards?: string[]; actor: string },
): Promise<boolean> {
  const doneShards = tx.doneShards ?? [];
  const n = await execute(
    db,
    named(
      "cohort.finish-abort",
      sql`
      WITH t AS (
        UPDATE transactions SET status = 'ABORTED', outcome = 'ABORTED', ended_at = now(), updated_at = now()
        WHERE id = ${tx.id}::uuid AND status = 'ABORTING' AND coordinator_id = ${tx.coordinatorId}::uuid
        RETURNING id),
      b AS (
        UPDATE branches SET status = 'ABORTED', resolved_at = now(), next_retry_at = NULL,
          attempts = CASE WHEN shard = ANY(${doneShards}::text[]) THEN attempts + 1 ELSE attempts END
        WHERE tx_id IN (SELECT id FROM t) AND ${unresolvedBranchSql()})
      INSERT INTO tx_log (tx_id, type, actor, data)
      SELECT id, 'end', ${tx.actor}, ${json({ status: "ABORTED", resolved: doneShards })}::jsonb FROM t`,
    ),
  );
  return n > 0;
}

/**
 * A queued delivery failed: count the attempt and say when the queue tries again. No
 * ownership check: whoever delivers a logged decision may record its progress.
 */
export async function recordDeliveryFailure(
  db: LogDb,
  rec: { txId: string; shard: string; error: string; nextRetryAt: Date; actor: string },
): Promise<void> {
  await execute(
    db,
    named(
      "cohort.delivery-failed",
      sql`
      WITH b AS (
        UPDATE branches SET attempts = attempts + 1, last_error = ${rec.error}, next_retry_at = ${rec.nextRetryAt.toISOString()}::timestamptz
        WHERE tx_id = ${rec.txId}::uuid AND shard = ${rec.shard} AND ${unresolvedBranchSql()}
        RETURNING tx_id)
      INSERT INTO tx_log (tx_id, type, actor, shard, data)
      SELECT tx_id, 'phase2.error', ${rec.actor}, ${rec.shard},
        jsonb_build_object('error', ${rec.error}::text, 'nextRetryAt', ${rec.nextRetryAt.toISOString()}::text, 'via', 'queue')
      FROM b`,
    ),
  );
}

/**
 * A queued delivery succeeded: resolve the branch and, when it was the last unresolved
 * one, write the end record. One database transaction holding the transaction row's lock,
 * so two branches delivered at once cannot both see the other as still pending.
 * Returns whether this call ended the transaction.
 */
export async function resolveBranch(
  pool: pg.Pool,
  rec: { txId: string; shard: string; to: "COMMITTED" | "ABORTED"; note: string; actor: string },
): Promise<boolean> {
  const client = await pool.connect();
  // pg-pool stops listening while a client is checked out: a connection the server drops
  // now would raise an 'error' nobody handles and kill the process. The query fails anyway.
  const ignore = () => undefined;
  client.on("error", ignore);
  let failure: Error | undefined;
  try {
    await client.query("BEGIN");
    const locked = await client.query(
      `SELECT 1 FROM transactions WHERE id = $1::uuid AND ended_at IS NULL AND ${deliveringSql().text} FOR UPDATE`,
      [rec.txId],
    );
    if (locked.rowCount === 0) {
      await client.query("COMMIT");
      return false;
    }
    const resolved = await client.query(
      `UPDATE branches SET status = $3::"BranchStatus", resolved_at = now(), attempts = attempts + 1, last_error = NULL,
         next_retry_at = NULL, dead_lettered_at = NULL
       WHERE tx_id = $1::uuid AND shard = $2 AND ${unresolvedBranchSql().text}`,
      [rec.txId, rec.shard, rec.to],
    );
    if ((resolved.rowCount ?? 0) > 0) {
      await client.query(
        `INSERT INTO tx_log (tx_id, type, actor, shard, data)
         VALUES ($1::uuid, 'phase2.done', $2, $3, jsonb_build_object('status', $4::text, 'note', NULLIF($5::text, ''), 'via', 'queue'))`,
        [rec.txId, rec.actor, rec.shard, rec.to, rec.note],
      );
    }
    const left = await client.query(`SELECT 1 FROM branches WHERE tx_id = $1::uuid AND ${unresolvedBranchSql().text} LIMIT 1`, [
      rec.txId,
    ]);
    let ended = false;
    if (left.rowCount === 0) {
      await client.query(
        `UPDATE transactions SET status = $2::"TxStatus", outcome = $2::"TxStatus", ended_at = now(), updated_at = now()
         WHERE id = $1::uuid`,
        [rec.txId, rec.to],
      );
      await client.query(
        `INSERT INTO tx_log (tx_id, type, actor, data) VALUES ($1::uuid, 'end', $2, jsonb_build_object('status', $3::text, 'via', 'queue'))`,
        [rec.txId, rec.actor, rec.to],
      );
      ended = true;
    }
    await client.query("COMMIT");
    return ended;
  } catch (err) {
    failure = err as Error;
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.removeListener("error", ignore);
    client.release(failure); // a session that failed is destroyed, not reused
  }
}

/**
 * The phase-2 queue's marks on unresolved branches, each with a timeline record
 * `phase2.<mark>`: handed to the queue (`queued`) or put back on it by an operator
 * (`requeued`), which clear an earlier dead-letter mark; or `dead-lettered`, past the
 * delivery limit or moved by an operator, which marks the branch for a person and clears
 * its retry time (no retry of its own is scheduled any more).
 */
export type QueueMark = "queued" | "requeued" | "dead-lettered";

export async function markQueued(
  db: LogDb,
  rec: { txId: string; shards: string[]; mark: QueueMark; detail: unknown; actor: string },
): Promise<void> {
  const dead = rec.mark === "dead-lettered";
  await execute(
    db,
    named(
      "cohort.mark-queued",
      sql`
      WITH b AS (
        UPDATE branches SET dead_lettered_at = CASE WHEN ${dead}::boolean THEN now() END,
          next_retry_at = CASE WHEN ${dead}::boolean THEN NULL ELSE next_retry_at END
        WHERE tx_id = ${rec.txId}::uuid AND shard = ANY(${rec.shards}::text[]) AND ${unresolvedBranchSql()}
        RETURNING tx_id, shard)
      INSERT INTO tx_log (tx_id, type, actor, shard, data)
      SELECT tx_id, ${`phase2.${rec.mark}`}::text, ${rec.actor}, shard, ${json(rec.detail)}::jsonb
      FROM b`,
    ),
  );
}
