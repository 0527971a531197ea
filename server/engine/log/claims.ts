// Recovery's side of the log (DESIGN.md §2 "Recovery"): claiming the unfinished
// transactions of dead instances, finding this instance's own stalled ones, the tombstone
// that makes presumed abort safe for a prepared branch the log never knew, and the rows
// reconciliation judges shards' prepared transactions by.
import { sql, type SqlQuery } from "../../db/sql";
import { execute, queryRows, type LogDb } from "./db";
import { LIVE_INSTANCES } from "./leases";
import { unresolvedBranchSql } from "./stateSql";
import type { Decision, TxStatus } from "./states";

export type ClaimedTx = {
  id: string;
  label: string;
  status: TxStatus;
  decision: Decision | null;
  previous: string | null;
  /** A one-phase commit in doubt when PREPARING: the shard, not the log, knows its outcome. */
  onePhase: boolean;
  /** Branches not yet resolved. */
  shards: string[];
};

/**
 * Makes `me` the owner of the transactions `victims` selects (a query over `transactions`
 * returning id and coordinator_id, which may use the `live` CTE of live instances), records
 * the takeover in their timelines, and returns them with the branches still waiting for an
 * outcome.
 */
function claim(db: LogDb, me: string, actor: string, victims: SqlQuery, requestedBy: string | null): Promise<ClaimedTx[]> {
  return queryRows<ClaimedTx>(
    db,
    sql`
      WITH live AS (${LIVE_INSTANCES}),
      victims AS (${victims}),
      claimed AS (
        UPDATE transactions t SET coordinator_id = ${me}::uuid, updated_at = now()
        FROM victims v WHERE t.id = v.id
        RETURNING t.id, t.label, t.status, t.decision, t.one_phase, v.coordinator_id AS previous),
      pending AS (
        SELECT b.tx_id, array_agg(b.shard ORDER BY b.shard) AS shards FROM branches b
        WHERE b.tx_id IN (SELECT id FROM claimed) AND ${unresolvedBranchSql("b")}
        GROUP BY b.tx_id),
      logged AS (
        INSERT INTO tx_log (tx_id, type, actor, data)
        SELECT id, 'takeover', ${actor},
          jsonb_strip_nulls(jsonb_build_object('from', previous, 'status', status, 'requestedBy', ${requestedBy}::text))
        FROM claimed WHERE previous IS DISTINCT FROM ${me}::uuid)
      SELECT c.id::text, c.label, c.status::text AS status, c.decision::text AS decision, c.previous::text AS previous,
        c.one_phase AS "onePhase", COALESCE(p.shards, '{}') AS shards
      FROM claimed c LEFT JOIN pending p ON p.tx_id = c.id`,
  );
}

/**
 * Claims up to `batch` unfinished transactions whose coordinator is gone. FOR UPDATE
 * SKIP LOCKED lets several live instances claim at once without taking the same row.
 */
export function claimOrphaned(db: LogDb, claimant: { me: string; actor: string }, batch: number): Promise<ClaimedTx[]> {
  return claim(
    db,
    claimant.me,
    claimant.actor,
    sql`
        SELECT id, coordinator_id FROM transactions
        WHERE ended_at IS NULL
          AND coordinator_id IS DISTINCT FROM ${claimant.me}::uuid
          AND (coordinator_id IS NULL OR coordinator_id NOT IN (SELECT id FROM live))
        ORDER BY started_at
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`,
    null,
  );
}

/**
 * Claims one transaction for an operator action. A decided transaction is taken from any
 * owner (phase two is idempotent, and the old owner's writes stop at its ownership check);
 * an undecided one only when its owner is gone or was cleared by a forced decision.
 */
export async function claimOne(
  db: LogDb,
  claimant: { me: string; actor: string },
  txId: string,
  requestedBy: string,
): Promise<ClaimedTx | null> {
  const rows = await claim(
    db,
    claimant.me,
    claimant.actor,
    sql`
        SELECT id, coordinator_id FROM transactions
        WHERE id = ${txId}::uuid AND ended_at IS NULL
          AND (decision IS NOT NULL OR coordinator_id IS NULL OR coordinator_id NOT IN (SELECT id FROM live)
               OR coordinator_id = ${claimant.me}::uuid
               -- a one-phase commit in doubt is settled by asking its shard: anyone may ask
               OR one_phase)
        FOR UPDATE`,
    requestedBy,
  );
  return rows[0] ?? null;
}

/**
 * `me`'s own unfinished transactions with no progress logged for `olderThanMs`, except those
 * the phase-2 queue is still retrying (a recent retry time, or a recent dead-letter mark:
 * past its delivery limit the queue keeps delivering). A dead-lettered branch nothing
 * retries any more (entry lost with Redis, moved by hand) counts as stalled.
 */
export function stalledOwned(db: LogDb, me: string, olderThanMs: number, queuedGraceMs: number): Promise<ClaimedTx[]> {
  return queryRows<ClaimedTx>(
    db,
    sql`
      SELECT t.id::text, t.label, t.status::text AS status, t.decision::text AS decision, NULL AS previous,
        t.one_phase AS "onePhase",
        COALESCE((SELECT array_agg(b.shard ORDER BY b.shard) FROM branches b
                  WHERE b.tx_id = t.id AND ${unresolvedBranchSql("b")}), '{}') AS shards
      FROM transactions t
      WHERE t.coordinator_id = ${me}::uuid AND t.ended_at IS NULL
        AND t.updated_at < now() - make_interval(secs => ${olderThanMs / 1000})
        AND NOT EXISTS (SELECT 1 FROM branches q WHERE q.tx_id = t.id AND ${unresolvedBranchSql("q")}
          AND GREATEST(q.dead_lettered_at, q.next_retry_at) > now() - make_interval(secs => ${queuedGraceMs / 1000}))
      ORDER BY t.started_at LIMIT 500`,
  );
}

/**
 * Writes an ABORTED record for a transaction the log has none of; false if one exists.
 * Presumed abort may roll back a prepared branch the log never knew only once nothing can
 * still write COMMIT for it: the commit-point compare-and-set needs a PREPARING row, and
 * can never overwrite this one.
 */
export async function tombstone(db: LogDb, txId: string, label: string): Promise<boolean> {
  const n = await execute(
    db,
    sql`
      INSERT INTO transactions (id, label, status, decision, outcome, deadline_at, decided_at, ended_at, abort_reason)
      VALUES (${txId}::uuid, ${label}, 'ABORTED', 'ABORT', 'ABORTED', now(), now(), now(),
        'no record in the coordinator log: presumed abort (reconciliation)')
      ON CONFLICT (id) DO NOTHING`,
  );
  return n > 0;
}

export type ReconcileRow = {
  id: string;
  status: TxStatus;
  decision: Decision | null;
  coordinator_id: string | null;
  /** Its owner holds a live lease. */
  owner_live: boolean;
};

/** What the log says of the transactions behind a shard's prepared transactions. */
export function reconcileRows(db: LogDb, ids: string[]): Promise<ReconcileRow[]> {
  return queryRows<ReconcileRow>(
    db,
    sql`
      SELECT t.id::text, t.status::text AS status, t.decision::text AS decision, t.coordinator_id::text AS coordinator_id,
        (i.id IS NOT NULL) AS owner_live
      FROM transactions t
      LEFT JOIN engine_instances i ON i.id = t.coordinator_id AND i.lease_expires_at > now() AND i.stopped_at IS NULL
      WHERE t.id = ANY(${ids}::uuid[])`,
  );
}
