// Writes to the coordinator log. Each state change is one statement: a data-modifying
// CTE that does the compare-and-set on the transaction row, updates its branches and
// appends the timeline records, so a change and its record can never be split.
// Every CAS names the expected status and owner: a coordinator whose work was taken
// over, force-aborted or timed out finds zero rows and learns it lost.
import type pg from "pg";
import type { PrismaClient } from "../../db/prisma";
import { execute, named, queryRows, sql, type SqlQuery } from "../../db/sql";
import { GroupCommit } from "../groupCommit";
import { decideAbort, type AbortDecision } from "./decisions";
import { finishAborted, markQueued, recordDeliveryFailure, recordPhase2, resolveBranch } from "./delivery";
import { branchState, readTransaction, type BranchRow, type BranchState, type TxRow } from "./reads";
import {
  onePhasePid,
  recordOnePhaseEvidence,
  recordOnePhaseInDoubt,
  settleOnePhase,
  writeOnePhase,
  type OnePhaseItem,
} from "./onePhase";
import { appendRecord } from "./timeline";

// The states live in log/states.ts; the log's other writes in log/ (this class delegates).
export type { BranchStatus, Decision, TxStatus } from "./states";
export type { Vote } from "./decisions";
export type { BranchRow, TxRow } from "./reads";

const json = (v: unknown) => JSON.stringify(v ?? null);

/**
 * The transactional outbox: a CTE inserting `events` for the transactions that the CTE `t`
 * changed, so they become visible exactly when that change does.
 */
function insertOutbox(events: (OutboxEventInput & { txId: string })[]): SqlQuery {
  return sql`o AS (
        INSERT INTO outbox (id, tx_id, aggregatetype, aggregateid, type, payload)
        SELECT e.id, e.tx_id, e.aggregatetype, e.aggregateid, e.type, e.payload
        FROM unnest(${events.map((e) => e.id)}::uuid[], ${events.map((e) => e.txId)}::uuid[],
          ${events.map((e) => e.aggregatetype)}::text[], ${events.map((e) => e.aggregateid)}::text[],
          ${events.map((e) => e.type)}::text[], ${events.map((e) => json(e.payload))}::jsonb[])
          AS e(id, tx_id, aggregatetype, aggregateid, type, payload)
        WHERE e.tx_id IN (SELECT id FROM t))`;
}

/**
 * The outbox rows of the transactions a COMMIT decision's CTE `t` just decided, from the
 * events their PREPARING record logged (returned by `t` as `outbox_events`, read from the
 * row before the update: the decision clears the column, so the events live on only as
 * outbox rows and the hot table does not keep a second copy). Every COMMIT decision of a
 * prepared transaction uses it: the coordinator's and an operator's.
 */
export const OUTBOX_FROM_DECISION = sql`o AS (
        INSERT INTO outbox (id, tx_id, aggregatetype, aggregateid, type, payload)
        SELECT e.id, t.id, e.aggregatetype, e.aggregateid, e.type, COALESCE(e.payload, 'null'::jsonb)
        FROM t, jsonb_to_recordset(t.outbox_events)
          AS e(id uuid, aggregatetype text, aggregateid text, type text, payload jsonb)
        WHERE t.outbox_events IS NOT NULL)`;

/** What every batched state change carries (see CoordinatorLog.casBatch). */
interface BatchItem {
  id: string;
  coordinatorId: string;
}
/**
 * The first record of a transaction that prepares branches (begin is lazy: a transaction
 * that never reaches commit() leaves nothing behind unless it aborts).
 */
interface PrepareItem extends BatchItem {
  label: string;
  startedAt: Date;
  deadlineAt: Date;
  shards: string[];
  gids: string[];
  /** Logged with PREPARING so that any COMMIT decision, an operator's too, publishes them. */
  events: OutboxEventInput[];
}
/** An outbox event (Debezium's outbox columns), written with the COMMIT decision. */
export interface OutboxEventInput {
  id: string;
  aggregatetype: string;
  aggregateid: string;
  type: string;
  payload: unknown;
}

/**
 * Records nobody waits for (end records, one-phase records) wait this long for company: a
 * statement costs the log's backend a few hundred µs whatever it carries, its rows a few
 * µs each (measured: 909 µs of backend CPU per transaction written one at a time, 250 in
 * batches of 4, 85 in batches of 32).
 */
const RECORD_LINGER_MS = 25;

export class CoordinatorLog {
  /**
   * @param forced   synchronous_commit on: the COMMIT decision (the commit point).
   * @param lazy     synchronous_commit off: records that presumed abort lets us lose.
   * @param prisma   typed reads.
   */
  constructor(
    private readonly forced: pg.Pool,
    private readonly lazy: pg.Pool,
    private readonly prisma: PrismaClient,
  ) {}

  // Hot-path writes go through group commit: one statement per batch of transactions.
  // One statement in flight per kind: the next batch fills while it runs (the classic group
  // commit), which measured fewer, larger statements than two in flight at the same latency.
  private readonly prepareGroup = new GroupCommit<PrepareItem, boolean>((items) => this.writePreparing(items), {
    maxInFlight: 1,
  });
  private readonly commitGroup = new GroupCommit<BatchItem, boolean>((items) => this.writeCommitDecisions(items), {
    maxInFlight: 1,
  });
  private readonly endGroup = new GroupCommit<BatchItem, boolean>((items) => this.writeCommitted(items), {
    lingerMs: RECORD_LINGER_MS,
  });
  private readonly onePhaseGroup = new GroupCommit<OnePhaseItem, void>((items) => writeOnePhase(this.lazy, items), {
    lingerMs: RECORD_LINGER_MS,
  });

  /**
   * The transaction's first record, PREPARING with its branches: must be in the log before
   * any PREPARE, so that recovery finds the branches of a coordinator that dies. Not forced:
   * if it is lost, so is every later record, and reconciliation presumes abort for the
   * prepared branches it finds. False when the deadline passed, the coordinator's lease ran
   * out, or the id is taken (an ABORTED record written for it meanwhile).
   */
  markPreparing(tx: PrepareItem): Promise<boolean> {
    return this.prepareGroup.submit(tx);
  }

  /** The commit point: forced, and only if nobody decided or aborted first. */
  decideCommit(tx: BatchItem): Promise<boolean> {
    return this.commitGroup.submit(tx);
  }

  /**
   * COMMITTING → COMMITTED once every branch is committed: the end record. Nothing waits
   * for it (phase two already reached every branch); if it is lost, the stale sweep drives
   * phase two again, which finds the branches committed and writes it then.
   */
  finishCommitted(tx: BatchItem): Promise<boolean> {
    return this.endGroup.submit(tx);
  }

  /**
   * The record of a one-phase commit, written after the branch committed: the commit point
   * was the shard's own COMMIT, so this is history for the console, not something recovery
   * needs, and it is neither forced nor waited for.
   */
  recordOnePhase(tx: OnePhaseItem): Promise<void> {
    return this.onePhaseGroup.submit(tx);
  }

  private async writePreparing(items: PrepareItem[]): Promise<boolean[]> {
    const branches = items.flatMap((i) => i.shards.map((shard, k) => ({ id: i.id, shard, gid: i.gids[k]! })));
    const rows = await queryRows<{ id: string }>(
      this.lazy,
      named(
        "cohort.prepare",
        sql`
      WITH x AS (
        SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.label)}::text[],
          ${items.map((i) => i.coordinatorId)}::uuid[], ${items.map((i) => i.startedAt.toISOString())}::timestamptz[],
          ${items.map((i) => i.deadlineAt.toISOString())}::timestamptz[],
          ${items.map((i) => (i.events.length > 0 ? json(i.events) : null))}::jsonb[])
          AS x(id, label, coordinator_id, started_at, deadline_at, events)),
      t AS (
        INSERT INTO transactions (id, label, status, coordinator_id, started_at, prepared_at, updated_at, deadline_at, outbox_events)
        SELECT id, label, 'PREPARING', coordinator_id, started_at, now(), now(), deadline_at, events FROM x
        WHERE deadline_at > now()
          -- A coordinator whose lease ran out (a long pause) may have had its locks given to
          -- others and its work taken over: it must not start a commit.
          AND EXISTS (SELECT 1 FROM engine_instances i WHERE i.id = x.coordinator_id
            AND i.lease_expires_at > now() AND i.stopped_at IS NULL)
        ON CONFLICT (id) DO NOTHING
        RETURNING id),
      b AS (
        INSERT INTO branches (tx_id, shard, gid, status)
        SELECT b.tx_id, b.shard, b.gid, 'ACTIVE'
        FROM unnest(${branches.map((b) => b.id)}::uuid[], ${branches.map((b) => b.shard)}::text[],
          ${branches.map((b) => b.gid)}::text[]) AS b(tx_id, shard, gid)
        WHERE b.tx_id IN (SELECT id FROM t))
      SELECT id::text FROM t`,
      ),
    );
    const inserted = new Set(rows.map((r) => r.id));
    return items.map((i) => inserted.has(i.id));
  }

  /**
   * The branches keep status ACTIVE and no vote: a COMMIT decision means every branch voted
   * yes, so readers show them PREPARED (see server/transactions/detail.ts), and one row
   * update fewer per branch is what makes the decision cheap.
   */
  private writeCommitDecisions(items: BatchItem[]): Promise<boolean[]> {
    return this.casBatch(
      this.forced,
      "cohort.decide-commit",
      items,
      sql`
      t AS (
        UPDATE transactions tx SET status = 'COMMITTING', decision = 'COMMIT', decided_at = now(), updated_at = now(),
          outbox_events = NULL
        FROM x JOIN transactions o ON o.id = x.id
        WHERE tx.id = x.id AND tx.status = 'PREPARING' AND tx.coordinator_id = x.coordinator_id
          AND tx.decision IS NULL AND tx.deadline_at > now()
        RETURNING tx.id, o.outbox_events),
      ${OUTBOX_FROM_DECISION}`,
    );
  }

  private writeCommitted(items: BatchItem[]): Promise<boolean[]> {
    return this.casBatch(
      this.lazy,
      "cohort.end-commit",
      items,
      sql`
      t AS (
        UPDATE transactions tx SET status = 'COMMITTED', outcome = 'COMMITTED', ended_at = now(), updated_at = now()
        FROM x WHERE tx.id = x.id AND tx.status = 'COMMITTING' AND tx.coordinator_id = x.coordinator_id
        RETURNING tx.id),
      b AS (
        UPDATE branches SET status = 'COMMITTED', vote = true, resolved_at = now(), next_retry_at = NULL, attempts = attempts + 1
        WHERE tx_id IN (SELECT id FROM t) AND status IN ('ACTIVE', 'PREPARED'))`,
    );
  }

  /** See log/onePhase.ts recordOnePhaseInDoubt: forced, the caller is told OUTCOME_PENDING. */
  recordOnePhaseInDoubt(tx: OnePhaseItem & { pid: number | null; error: string; actor: string }): Promise<void> {
    return recordOnePhaseInDoubt(this.forced, tx);
  }

  /** See log/onePhase.ts recordOnePhaseEvidence: forced, the shard's evidence is deleted after it. */
  recordOnePhaseEvidence(
    shard: string,
    items: { txId: string; gid: string; committedAt: Date }[],
    actor: string,
  ): Promise<string[]> {
    return recordOnePhaseEvidence(this.forced, shard, items, actor);
  }

  onePhasePid(txId: string): Promise<number | null> {
    return onePhasePid(this.lazy, txId);
  }

  /** See log/onePhase.ts settleOnePhase: forced, it ends the transaction. */
  settleOnePhase(tx: { id: string; coordinatorId: string; committed: boolean; actor: string }): Promise<boolean> {
    return settleOnePhase(this.forced, tx);
  }

  /**
   * One batched state change: the items are the rows of `x` (id, coordinator_id); `change`
   * is the CTEs that follow, among them `t`, the compare-and-set on the transactions,
   * returning the id of each row it changed. Returns, per item, whether `t` changed it.
   * The happy path writes no timeline records: the row's timestamps are its timeline.
   */
  private async casBatch(pool: pg.Pool, name: string, items: BatchItem[], change: SqlQuery): Promise<boolean[]> {
    const rows = await queryRows<{ id: string }>(
      pool,
      named(
        name,
        sql`
      WITH x AS (
        SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.coordinatorId)}::uuid[])
          AS x(id, coordinator_id)),
      ${change}
      SELECT id::text FROM t`,
      ),
    );
    const changed = new Set(rows.map((r) => r.id));
    return items.map((i) => changed.has(i.id));
  }

  /**
   * A transaction that did no branch work commits with one record: nothing to prepare, so
   * the decision and the end are one. Its outbox events are then its only effect, so with
   * events this is forced like a COMMIT decision. False when the deadline passed or an
   * ABORTED record exists for it.
   */
  async commitWithoutBranches(tx: {
    id: string;
    label: string;
    coordinatorId: string;
    startedAt: Date;
    deadlineAt: Date;
    events: OutboxEventInput[];
  }): Promise<boolean> {
    const n = await execute(
      tx.events.length > 0 ? this.forced : this.lazy,
      named(
        "cohort.commit-without-branches",
        sql`
      WITH t AS (
        INSERT INTO transactions (id, label, status, outcome, decision, coordinator_id, started_at, decided_at, ended_at,
          updated_at, deadline_at)
        SELECT ${tx.id}::uuid, ${tx.label}, 'COMMITTED', 'COMMITTED', 'COMMIT', ${tx.coordinatorId}::uuid,
          ${tx.startedAt.toISOString()}::timestamptz, now(), now(), now(), ${tx.deadlineAt.toISOString()}::timestamptz
        WHERE ${tx.deadlineAt.toISOString()}::timestamptz > now()
        ON CONFLICT (id) DO NOTHING
        RETURNING id),
      ${insertOutbox(tx.events.map((e) => ({ ...e, txId: tx.id })))}
      SELECT id FROM t`,
      ),
    );
    return n > 0;
  }

  /**
   * The record of a transaction that ended before any PREPARE: ABORTED at once, with the
   * reason in a timeline record of `recordType` (abort, timeout, deadlock.victim). Nothing
   * was prepared, so nothing waits for it and a lost record costs nothing. Does nothing if a
   * record exists already.
   */
  async recordUnpreparedAbort(tx: {
    id: string;
    label: string;
    coordinatorId: string;
    startedAt: Date;
    deadlineAt: Date;
    reason: string;
    actor: string;
    recordType: string;
  }): Promise<boolean> {
    const n = await execute(
      this.lazy,
      named(
        "cohort.unprepared-abort",
        sql`
      WITH t AS (
        INSERT INTO transactions (id, label, status, outcome, decision, coordinator_id, started_at, decided_at, ended_at,
          updated_at, deadline_at, abort_reason)
        VALUES (${tx.id}::uuid, ${tx.label}, 'ABORTED', 'ABORTED', 'ABORT', ${tx.coordinatorId}::uuid,
          ${tx.startedAt.toISOString()}::timestamptz, now(), now(), now(), ${tx.deadlineAt.toISOString()}::timestamptz, ${tx.reason})
        ON CONFLICT (id) DO NOTHING
        RETURNING id)
      INSERT INTO tx_log (tx_id, type, actor, data)
      SELECT id, ${tx.recordType}::text, ${tx.actor}, ${json({ decision: "ABORT", reason: tx.reason })}::jsonb FROM t`,
      ),
    );
    return n > 0;
  }

  /**
   * Logs an ABORT decision if the abort rule (log/states.ts `mayAbort`) allows it. Not
   * forced: under presumed abort a lost abort record reads as abort anyway. `coordinatorId`
   * null means "whoever owns it" (operators, recovery after claiming).
   */
  decideAbort(tx: Omit<AbortDecision, "releaseOwner" | "record">): Promise<boolean> {
    return decideAbort(this.lazy, tx);
  }

  /** Phase-2 progress of some branches: successes, or a failed attempt with its retry time. */
  recordPhase2(tx: Parameters<typeof recordPhase2>[1]): Promise<boolean> {
    return recordPhase2(this.lazy, tx);
  }

  /** The end record of an abort (see log/delivery.ts). */
  finishAborted(tx: Parameters<typeof finishAborted>[1]): Promise<boolean> {
    return finishAborted(this.lazy, tx);
  }

  /** What phase two needs to know before delivering one branch's outcome from the queue. */
  branchState(txId: string, shard: string): Promise<BranchState | null> {
    return branchState(this.lazy, txId, shard);
  }

  /** A queued delivery failed: count the attempt and say when the queue tries again. */
  recordDeliveryFailure(rec: Parameters<typeof recordDeliveryFailure>[1]): Promise<void> {
    return recordDeliveryFailure(this.lazy, rec);
  }

  /** A queued delivery succeeded; returns whether this call ended the transaction. */
  resolveBranch(rec: Parameters<typeof resolveBranch>[1]): Promise<boolean> {
    return resolveBranch(this.lazy, rec);
  }

  /**
   * Marks branches as handed to the phase-2 queue (clearing an earlier dead-letter mark), or
   * as dead-lettered (`deadLettered`), with a timeline record either way.
   */
  markQueued(rec: { txId: string; shards: string[]; deadLettered: boolean; detail: unknown; actor: string }): Promise<void> {
    const { deadLettered, ...rest } = rec;
    return markQueued(this.lazy, { ...rest, mark: deadLettered ? "dead-lettered" : "queued" });
  }

  append(rec: { txId: string; type: string; actor: string; shard?: string; data?: unknown }): Promise<void> {
    return appendRecord(this.lazy, rec);
  }

  read(id: string): Promise<(TxRow & { branches: BranchRow[] }) | null> {
    return readTransaction(this.prisma, id);
  }
}
