// One-phase commits (Transaction.commitOnePhase): the shard's own COMMIT is the commit
// point, so the log records them afterwards, and only when the COMMIT's reply is lost does
// it hold one in doubt (PREPARING, one_phase) until the shard says what became of it.
import { named, sql } from "../../db/sql";
import { execute, jsonParam, queryRows, type LogDb } from "./db";

/** A transaction whose one branch committed locally: what its record says. */
export interface OnePhaseItem {
  id: string;
  label: string;
  coordinatorId: string;
  startedAt: Date;
  deadlineAt: Date;
  shard: string;
  gid: string;
}

/** The records of one-phase commits, written after the fact (see CoordinatorLog.recordOnePhase). */
export async function writeOnePhase(db: LogDb, items: OnePhaseItem[]): Promise<void[]> {
  await execute(
    db,
    named(
      "cohort.one-phase",
      sql`
      WITH x AS (
        SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.label)}::text[],
          ${items.map((i) => i.coordinatorId)}::uuid[], ${items.map((i) => i.startedAt.toISOString())}::timestamptz[],
          ${items.map((i) => i.deadlineAt.toISOString())}::timestamptz[], ${items.map((i) => i.shard)}::text[],
          ${items.map((i) => i.gid)}::text[])
          AS x(id, label, coordinator_id, started_at, deadline_at, shard, gid)),
      t AS (
        INSERT INTO transactions (id, label, status, outcome, decision, coordinator_id, started_at, decided_at, ended_at,
          updated_at, deadline_at, one_phase)
        SELECT id, label, 'COMMITTED', 'COMMITTED', 'COMMIT', coordinator_id, started_at, now(), now(), now(), deadline_at, true
        FROM x
        ON CONFLICT (id) DO NOTHING
        RETURNING id)
      INSERT INTO branches (tx_id, shard, gid, status, vote, attempts, resolved_at)
      SELECT x.id, x.shard, x.gid, 'COMMITTED', true, 1, now() FROM x WHERE x.id IN (SELECT id FROM t)`,
    ),
  );
  return items.map(() => undefined);
}

/**
 * A one-phase commit whose outcome the shard could not tell yet (its reply was lost and
 * the shard is unreachable): logged in doubt, PREPARING with one_phase set and the local
 * backend pid in the record, so that recovery asks the shard again (Recovery.finish)
 * and engine.outcome() can answer once it has. Forced: the caller is told OUTCOME_PENDING.
 */
export async function recordOnePhaseInDoubt(
  db: LogDb,
  tx: OnePhaseItem & { pid: number | null; error: string; actor: string },
): Promise<void> {
  await execute(
    db,
    named(
      "cohort.one-phase-in-doubt",
      sql`
      WITH t AS (
        INSERT INTO transactions (id, label, status, coordinator_id, started_at, prepared_at, updated_at, deadline_at, one_phase)
        VALUES (${tx.id}::uuid, ${tx.label}, 'PREPARING', ${tx.coordinatorId}::uuid, ${tx.startedAt.toISOString()}::timestamptz,
          now(), now(), ${tx.deadlineAt.toISOString()}::timestamptz, true)
        ON CONFLICT (id) DO NOTHING
        RETURNING id),
      b AS (
        INSERT INTO branches (tx_id, shard, gid, status, last_error)
        SELECT id, ${tx.shard}, ${tx.gid}, 'ACTIVE', ${tx.error} FROM t)
      INSERT INTO tx_log (tx_id, type, actor, shard, data)
      SELECT id, 'one-phase.in-doubt', ${tx.actor}, ${tx.shard}, ${jsonParam({ pid: tx.pid, error: tx.error })}::jsonb FROM t`,
    ),
  );
}

/** The local transaction id a one-phase commit in doubt was logged with (recordOnePhaseInDoubt). */
export async function onePhasePid(db: LogDb, txId: string): Promise<number | null> {
  const rows = await queryRows<{ pid: number | null }>(
    db,
    sql`SELECT (data->>'pid')::int AS pid FROM tx_log WHERE tx_id = ${txId}::uuid AND type = 'one-phase.in-doubt' ORDER BY id DESC LIMIT 1`,
  );
  return rows[0]?.pid ?? null;
}

/**
 * The shard told what became of a one-phase commit in doubt: the decision and the end in
 * one statement, as the shard's own COMMIT (or its absence) already decided. Only while
 * still in doubt and owned by `coordinatorId`.
 */
export async function settleOnePhase(
  db: LogDb,
  tx: { id: string; coordinatorId: string; committed: boolean; actor: string },
): Promise<boolean> {
  const outcome = tx.committed ? "COMMITTED" : "ABORTED";
  const n = await execute(
    db,
    named(
      "cohort.one-phase-settled",
      sql`
      WITH t AS (
        UPDATE transactions SET status = ${outcome}::"TxStatus", outcome = ${outcome}::"TxStatus",
          decision = ${tx.committed ? "COMMIT" : "ABORT"}::"Decision", decided_at = now(), ended_at = now(), updated_at = now(),
          abort_reason = CASE WHEN ${tx.committed}::boolean THEN NULL ELSE 'the one-phase COMMIT did not take effect on the shard' END
        WHERE id = ${tx.id}::uuid AND status = 'PREPARING' AND one_phase AND decision IS NULL
          AND coordinator_id = ${tx.coordinatorId}::uuid
        RETURNING id),
      b AS (
        UPDATE branches SET status = ${outcome}::"BranchStatus", vote = ${tx.committed}::boolean, resolved_at = now(),
          last_error = NULL, attempts = attempts + 1
        WHERE tx_id IN (SELECT id FROM t))
      INSERT INTO tx_log (tx_id, type, actor, data)
      SELECT id, 'one-phase.settled', ${tx.actor}, ${jsonParam({ status: outcome, via: "shard" })}::jsonb FROM t`,
    ),
  );
  return n > 0;
}

/** The label of a one-phase commit whose record only its shard's evidence could restore. */
export const RECOVERED_ONE_PHASE_LABEL = "(one-phase commit, record recovered from its shard)";

/**
 * One-phase commits their shard holds evidence of (participants/onePhaseEvidence.ts), made
 * known to the log: an in-doubt record is settled COMMITTED, a missing one is written (its
 * label is lost with the coordinator that died before writing it). Returns the ids whose log
 * record now says COMMITTED, whose evidence may go; any other (a record that contradicts the
 * shard) keeps its evidence and gets an incident record for a person to look at.
 */
export async function recordOnePhaseEvidence(
  db: LogDb,
  shard: string,
  items: { txId: string; gid: string; committedAt: Date }[],
  actor: string,
): Promise<string[]> {
  if (items.length === 0) return [];
  const rows = await queryRows<{ id: string }>(
    db,
    named(
      "cohort.one-phase-evidence",
      sql`
      WITH x AS (
        SELECT * FROM unnest(${items.map((i) => i.txId)}::uuid[], ${items.map((i) => i.gid)}::text[],
          ${items.map((i) => i.committedAt.toISOString())}::timestamptz[]) AS x(id, gid, committed_at)),
      s AS (
        UPDATE transactions t SET status = 'COMMITTED', outcome = 'COMMITTED', decision = 'COMMIT', decided_at = now(),
          ended_at = now(), updated_at = now()
        FROM x WHERE t.id = x.id AND t.status = 'PREPARING' AND t.one_phase AND t.decision IS NULL
        RETURNING t.id),
      sb AS (
        UPDATE branches SET status = 'COMMITTED', vote = true, resolved_at = now(), last_error = NULL, attempts = attempts + 1
        WHERE tx_id IN (SELECT id FROM s)),
      i AS (
        INSERT INTO transactions (id, label, status, outcome, decision, started_at, decided_at, ended_at, updated_at,
          deadline_at, one_phase)
        SELECT id, ${RECOVERED_ONE_PHASE_LABEL}, 'COMMITTED', 'COMMITTED', 'COMMIT', committed_at, committed_at, committed_at,
          now(), committed_at, true
        FROM x
        ON CONFLICT (id) DO NOTHING
        RETURNING id),
      ib AS (
        INSERT INTO branches (tx_id, shard, gid, status, vote, attempts, resolved_at)
        SELECT x.id, ${shard}, x.gid, 'COMMITTED', true, 1, x.committed_at FROM x WHERE x.id IN (SELECT id FROM i)),
      -- Rows that already said COMMITTED (before this statement: its own changes are in s and i).
      done AS (
        SELECT id FROM s UNION SELECT id FROM i
        UNION SELECT t.id FROM transactions t JOIN x ON x.id = t.id WHERE t.status = 'COMMITTED'),
      l AS (
        INSERT INTO tx_log (tx_id, type, actor, shard, data)
        SELECT id, 'one-phase.settled', ${actor}, ${shard}, '{"status": "COMMITTED", "via": "evidence"}'::jsonb FROM s
        UNION ALL
        SELECT id, 'one-phase.recovered', ${actor}, ${shard}, '{"status": "COMMITTED", "via": "evidence"}'::jsonb FROM i
        UNION ALL
        SELECT x.id, 'incident.heuristic', ${actor}, ${shard},
          '{"detail": "the shard holds evidence of a one-phase COMMIT the log does not record as committed"}'::jsonb
        FROM x WHERE x.id NOT IN (SELECT id FROM done))
      SELECT id::text FROM done`,
    ),
  );
  return rows.map((r) => r.id);
}
