// Writes to the coordinator log. Each state change is one statement: a data-modifying
// CTE that does the compare-and-set on the transaction row, updates its branches and
// appends the timeline records, so a change and its record can never be split.
// Every CAS names the expected status and owner: a coordinator whose work was taken
// over, force-aborted or timed out finds zero rows and learns it lost.
import type pg from "pg";
import type { PrismaClient } from "../db/prisma";
import { execute, named, queryRows, sql, type SqlQuery } from "../db/sql";
import { GroupCommit } from "./groupCommit";
import { decideAbort, type AbortDecision } from "./log/decisions";
import { finishAborted, markQueued, recordDeliveryFailure, recordPhase2, resolveBranch } from "./log/delivery";
import { branchState, readTransaction, type BranchRow, type BranchState, type TxRow } from "./log/reads";
import { appendRecord } from "./log/timeline";

// The states live in log/states.ts; the log's other writes in log/ (this class delegates).
export type { BranchStatus, Decision, TxStatus } from "./log/states";
export type { Vote } from "./log/decisions";
export type { BranchRow, TxRow } from "./log/reads";

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
  actor: string;
}
interface BeginItem {
  id: string;
  label: string;
  coordinatorId: string;
  deadlineAt: Date;
  actor: string;
}
interface PrepareItem extends BatchItem {
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

interface DecideItem extends BatchItem {
  shards: string[];
}
interface EndItem extends BatchItem {
  doneShards: string[];
}

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
  private readonly beginGroup = new GroupCommit<BeginItem, void>((items) => this.writeBegins(items));
  private readonly prepareGroup = new GroupCommit<PrepareItem, boolean>((items) => this.writePreparing(items));
  private readonly commitGroup = new GroupCommit<DecideItem, boolean>((items) => this.writeCommitDecisions(items));
  private readonly endGroup = new GroupCommit<EndItem, boolean>((items) => this.writeCommitted(items));

  begin(tx: BeginItem): Promise<void> {
    return this.beginGroup.submit(tx);
  }

  /** ACTIVE → PREPARING with the branch list; must be in the log before any PREPARE. */
  markPreparing(tx: PrepareItem): Promise<boolean> {
    return this.prepareGroup.submit(tx);
  }

  /**
   * The commit point: forced, and only if nobody decided or aborted first. The yes votes
   * ride in the decision record (one row instead of one per branch).
   */
  decideCommit(tx: DecideItem): Promise<boolean> {
    return this.commitGroup.submit(tx);
  }

  /** COMMITTING → COMMITTED once every branch is committed: the end record. */
  finishCommitted(tx: EndItem): Promise<boolean> {
    return this.endGroup.submit(tx);
  }

  private async writeBegins(items: BeginItem[]): Promise<void[]> {
    await execute(
      this.lazy,
      named(
        "cohort.begin",
        sql`
      WITH x AS (
        SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.label)}::text[],
          ${items.map((i) => i.coordinatorId)}::uuid[], ${items.map((i) => i.deadlineAt.toISOString())}::timestamptz[],
          ${items.map((i) => i.actor)}::text[]) AS x(id, label, coordinator_id, deadline_at, actor)),
      t AS (
        INSERT INTO transactions (id, label, status, coordinator_id, deadline_at)
        SELECT id, label, 'ACTIVE', coordinator_id, deadline_at FROM x)
      INSERT INTO tx_log (tx_id, type, actor, data)
      SELECT id, 'begin', actor, jsonb_build_object('label', label, 'deadlineAt', deadline_at) FROM x`,
      ),
    );
    return items.map(() => undefined);
  }

  private writePreparing(items: PrepareItem[]): Promise<boolean[]> {
    const branches = items.flatMap((i) => i.shards.map((shard, k) => ({ id: i.id, shard, gid: i.gids[k]! })));
    return this.casBatch(
      this.lazy,
      "cohort.prepare",
      "prepare",
      items,
      (i) => ({ shards: i.shards }),
      sql`
      ev AS (
        SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[],
          ${items.map((i) => (i.events.length > 0 ? json(i.events) : null))}::jsonb[]) AS ev(id, events)),
      t AS (
        UPDATE transactions tx SET status = 'PREPARING', updated_at = now(), outbox_events = ev.events
        FROM x JOIN ev ON ev.id = x.id
        WHERE tx.id = x.id AND tx.status = 'ACTIVE' AND tx.coordinator_id = x.coordinator_id
          AND tx.decision IS NULL AND tx.deadline_at > now()
        RETURNING tx.id, x.actor, x.data),
      b AS (
        INSERT INTO branches (tx_id, shard, gid, status)
        SELECT b.tx_id, b.shard, b.gid, 'ACTIVE'
        FROM unnest(${branches.map((b) => b.id)}::uuid[], ${branches.map((b) => b.shard)}::text[],
          ${branches.map((b) => b.gid)}::text[]) AS b(tx_id, shard, gid)
        WHERE b.tx_id IN (SELECT id FROM t))`,
    );
  }

  private writeCommitDecisions(items: DecideItem[]): Promise<boolean[]> {
    return this.casBatch(
      this.forced,
      "cohort.decide-commit",
      "decision",
      items,
      (i) => ({ decision: "COMMIT", votes: Object.fromEntries(i.shards.map((s) => [s, "yes"])) }),
      sql`
      t AS (
        UPDATE transactions tx SET status = 'COMMITTING', decision = 'COMMIT', decided_at = now(), updated_at = now(),
          outbox_events = NULL
        FROM x JOIN transactions o ON o.id = x.id
        WHERE tx.id = x.id AND tx.status = 'PREPARING' AND tx.coordinator_id = x.coordinator_id
          AND tx.decision IS NULL AND tx.deadline_at > now()
        RETURNING tx.id, x.actor, x.data, o.outbox_events),
      b AS (
        UPDATE branches SET status = 'PREPARED', vote = true, prepared_at = now()
        WHERE tx_id IN (SELECT id FROM t)),
      ${OUTBOX_FROM_DECISION}`,
    );
  }

  private writeCommitted(items: EndItem[]): Promise<boolean[]> {
    return this.casBatch(
      this.lazy,
      "cohort.end-commit",
      "end",
      items,
      (i) => ({ status: "COMMITTED", resolved: i.doneShards }),
      sql`
      t AS (
        UPDATE transactions tx SET status = 'COMMITTED', outcome = 'COMMITTED', ended_at = now(), updated_at = now()
        FROM x WHERE tx.id = x.id AND tx.status = 'COMMITTING' AND tx.coordinator_id = x.coordinator_id
        RETURNING tx.id, x.actor, x.data),
      b AS (
        UPDATE branches SET status = 'COMMITTED', resolved_at = now(), next_retry_at = NULL, attempts = attempts + 1
        WHERE tx_id IN (SELECT id FROM t) AND status IN ('ACTIVE', 'PREPARED'))`,
    );
  }

  /**
   * One batched state change: the items are the rows of `x` (id, coordinator_id, actor,
   * data); `change` is the CTEs that follow, among them `t`, the compare-and-set on the
   * transactions, returning (id, actor, data) of each row it changed. Each change gets a
   * `recordType` record in its timeline. Returns, per item, whether `t` changed it.
   */
  private async casBatch<I extends BatchItem>(
    pool: pg.Pool,
    name: string,
    recordType: string,
    items: I[],
    data: (item: I) => unknown,
    change: SqlQuery,
  ): Promise<boolean[]> {
    const rows = await queryRows<{ id: string }>(
      pool,
      named(
        name,
        sql`
      WITH x AS (
        SELECT * FROM unnest(${items.map((i) => i.id)}::uuid[], ${items.map((i) => i.coordinatorId)}::uuid[],
          ${items.map((i) => i.actor)}::text[], ${items.map((i) => json(data(i)))}::jsonb[])
          AS x(id, coordinator_id, actor, data)),
      ${change},
      l AS (
        INSERT INTO tx_log (tx_id, type, actor, data) SELECT id, ${recordType}::text, actor, data FROM t)
      SELECT id::text FROM t`,
      ),
    );
    const changed = new Set(rows.map((r) => r.id));
    return items.map((i) => changed.has(i.id));
  }

  /**
   * ACTIVE → COMMITTED for a transaction that did no branch work: nothing to prepare, so
   * the decision and the end are one record. Its outbox events are then its only effect,
   * so with events this is forced like a COMMIT decision. False when the transaction is no
   * longer its coordinator's to commit (force-aborted, taken over, past its deadline).
   */
  async commitWithoutBranches(tx: {
    id: string;
    coordinatorId: string;
    actor: string;
    events: OutboxEventInput[];
  }): Promise<boolean> {
    const n = await execute(
      tx.events.length > 0 ? this.forced : this.lazy,
      named(
        "cohort.commit-without-branches",
        sql`
      WITH t AS (
        UPDATE transactions SET status = 'COMMITTED', outcome = 'COMMITTED', decision = 'COMMIT', decided_at = now(),
          ended_at = now(), updated_at = now()
        WHERE id = ${tx.id}::uuid AND status = 'ACTIVE' AND coordinator_id = ${tx.coordinatorId}::uuid
          AND decision IS NULL AND deadline_at > now()
        RETURNING id),
      ${insertOutbox(tx.events.map((e) => ({ ...e, txId: tx.id })))}
      INSERT INTO tx_log (tx_id, type, actor, data)
      SELECT id, 'end', ${tx.actor}, ${json({ status: "COMMITTED", resolved: [] })}::jsonb FROM t`,
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
