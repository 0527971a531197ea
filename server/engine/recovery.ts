// Recovery (DESIGN.md §2): take over the unfinished transactions of instances whose
// lease ran out, finish them by the log (no decision → abort, decision → redo phase
// two), and reconcile each shard's prepared transactions against the log.
import { Prisma } from "@prisma/client";
import { errorMessage } from "../errors";
import type { PrismaClient } from "../db/prisma";
import type { PostgresShard } from "../participants/postgresShard";
import type { CoordinatorLog, Decision, TxStatus } from "./coordinatorLog";
import type { PhaseTwo } from "./phaseTwo";
import type { EngineHooks } from "./types";

export interface ClaimedTx {
  id: string;
  label: string;
  status: TxStatus;
  decision: Decision | null;
  previous: string | null;
  /** Branches not yet resolved. */
  shards: string[];
}

export interface ReconcileReport {
  shard: string;
  committed: number;
  rolledBack: number;
  leftInFlight: number;
  errors: string[];
}

export interface RecoveryDeps {
  instanceId: string;
  actor: string;
  prisma: PrismaClient;
  log: CoordinatorLog;
  phaseTwo: PhaseTwo;
  shards: PostgresShard[];
  concurrency: number;
  /** A branch with a queued delivery retried within this long is the phase-2 queue's business. */
  queuedGraceMs: number;
  /** Reconciliation delivers outcomes too: a shard that phase two cannot reach (fault injection) is unreachable here as well. */
  hooks: EngineHooks;
  published(id: string, status: TxStatus, label: string): void;
}

export class Recovery {
  constructor(private readonly deps: RecoveryDeps) {}

  /**
   * Claims up to `batch` unfinished transactions whose coordinator is gone. FOR UPDATE
   * SKIP LOCKED lets several live instances claim at once without taking the same row.
   */
  async claimOrphaned(batch = 500): Promise<ClaimedTx[]> {
    const me = this.deps.instanceId;
    return this.claim(
      Prisma.sql`
        SELECT id, coordinator_id FROM transactions
        WHERE ended_at IS NULL
          AND coordinator_id IS DISTINCT FROM ${me}::uuid
          AND (coordinator_id IS NULL OR coordinator_id NOT IN (SELECT id FROM live))
        ORDER BY started_at
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`,
      null,
    );
  }

  /**
   * Takes the transactions `victims` selects (a query over `transactions` that may use the
   * `live` CTE of live instances), records the takeover in their timelines, and returns
   * them with the branches still waiting for an outcome.
   */
  private claim(victims: Prisma.Sql, requestedBy: string | null): Promise<ClaimedTx[]> {
    const me = this.deps.instanceId;
    return this.deps.prisma.$queryRaw<ClaimedTx[]>`
      WITH live AS (
        SELECT id FROM engine_instances WHERE lease_expires_at > now() AND stopped_at IS NULL),
      victims AS (${victims}),
      claimed AS (
        UPDATE transactions t SET coordinator_id = ${me}::uuid, updated_at = now()
        FROM victims v WHERE t.id = v.id
        RETURNING t.id, t.label, t.status, t.decision, v.coordinator_id AS previous),
      pending AS (
        SELECT b.tx_id, array_agg(b.shard ORDER BY b.shard) AS shards FROM branches b
        WHERE b.tx_id IN (SELECT id FROM claimed) AND b.status IN ('ACTIVE', 'PREPARED')
        GROUP BY b.tx_id),
      logged AS (
        INSERT INTO tx_log (tx_id, type, actor, data)
        SELECT id, 'takeover', ${this.deps.actor},
          jsonb_strip_nulls(jsonb_build_object('from', previous, 'status', status, 'requestedBy', ${requestedBy}::text))
        FROM claimed WHERE previous IS DISTINCT FROM ${me}::uuid)
      SELECT c.id::text, c.label, c.status::text AS status, c.decision::text AS decision, c.previous::text AS previous,
        COALESCE(p.shards, '{}') AS shards
      FROM claimed c LEFT JOIN pending p ON p.tx_id = c.id`;
  }

  /**
   * Our own unfinished transactions that nothing in this process is driving any more
   * (a commit that failed half-way on an infrastructure error): finish them by the log.
   * `busy` holds the ids of the transactions this process is working on.
   */
  async recoverStale(busy: { has(txId: string): boolean }, olderThanMs: number): Promise<number> {
    const me = this.deps.instanceId;
    const stale = await this.deps.prisma.$queryRaw<ClaimedTx[]>`
      SELECT t.id::text, t.label, t.status::text AS status, t.decision::text AS decision, NULL AS previous,
        COALESCE((SELECT array_agg(b.shard ORDER BY b.shard) FROM branches b
                  WHERE b.tx_id = t.id AND b.status IN ('ACTIVE', 'PREPARED')), '{}') AS shards
      FROM transactions t
      WHERE t.coordinator_id = ${me}::uuid AND t.ended_at IS NULL
        AND t.updated_at < now() - make_interval(secs => ${olderThanMs / 1000})
        -- The phase-2 queue is retrying it (a recent retry time, or a recent dead-letter mark:
        -- past its delivery limit the queue keeps delivering): not stale. A dead-lettered branch
        -- nothing retries any more (entry lost with Redis, moved by hand) is driven again.
        AND NOT EXISTS (SELECT 1 FROM branches q WHERE q.tx_id = t.id AND q.status IN ('ACTIVE', 'PREPARED')
          AND GREATEST(q.dead_lettered_at, q.next_retry_at) > now() - make_interval(secs => ${this.deps.queuedGraceMs / 1000}))
      ORDER BY t.started_at LIMIT 500`;
    const todo = stale.filter((t) => !busy.has(t.id));
    await mapLimit(todo, this.deps.concurrency, (tx) =>
      this.finish(tx).then(
        () => undefined,
        () => undefined,
      ),
    );
    return todo.length;
  }

  /** Claims and finishes orphaned transactions until none are left; returns how many. */
  async recoverAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.claimOrphaned();
      if (claimed.length === 0) return total;
      total += claimed.length;
      // A failure leaves the transaction claimed by us; recoverStale picks it up later.
      await mapLimit(claimed, this.deps.concurrency, (tx) =>
        this.finish(tx).then(
          () => undefined,
          () => undefined,
        ),
      );
    }
  }

  /**
   * Takes one transaction over for an operator action. A decided transaction is taken from
   * any owner (phase two is idempotent, and the old owner's writes stop at its ownership
   * check); an undecided one only when its owner is gone or was cleared by a forced decision.
   * Returns the claimed row, or null when it was not ours to take.
   */
  async claimOne(txId: string, by: string): Promise<ClaimedTx | null> {
    const me = this.deps.instanceId;
    const rows = await this.claim(
      Prisma.sql`
        SELECT id, coordinator_id FROM transactions
        WHERE id = ${txId}::uuid AND ended_at IS NULL
          AND (decision IS NOT NULL OR coordinator_id IS NULL OR coordinator_id NOT IN (SELECT id FROM live)
               OR coordinator_id = ${me}::uuid)
        FOR UPDATE`,
      by,
    );
    return rows[0] ?? null;
  }

  /** Finishes one claimed transaction according to the log; returns shards still pending. */
  async finish(tx: ClaimedTx): Promise<string[]> {
    const shards = tx.shards;
    const committing = tx.decision === "COMMIT" || tx.status === "COMMITTING";
    if (committing) return this.deps.phaseTwo.drive(tx.id, tx.label, true, shards, this.deps.actor);
    if (tx.status === "ACTIVE" || tx.status === "PREPARING") {
      const reason = tx.previous ? `coordinator ${tx.previous} lost its lease before deciding` : "no coordinator";
      const decided = await this.deps.log.decideAbort({
        id: tx.id,
        coordinatorId: this.deps.instanceId,
        reason,
        actor: this.deps.actor,
        recordType: "recovery.abort",
      });
      if (!decided) return shards; // decided meanwhile by someone else (operator): they own it
      this.deps.published(tx.id, "ABORTING", tx.label);
    }
    // Presumed abort: roll back whatever was prepared; unprepared work died with its connection.
    return this.deps.phaseTwo.drive(tx.id, tx.label, false, shards, this.deps.actor);
  }

  /** Writes (forced) an ABORTED record for a transaction the log has none of; false if one exists. */
  private async tombstone(txId: string): Promise<boolean> {
    const n = await this.deps.prisma.$executeRaw`
      INSERT INTO transactions (id, label, status, decision, outcome, deadline_at, decided_at, ended_at, abort_reason)
      VALUES (${txId}::uuid, ${ORPHAN_LABEL}, 'ABORTED', 'ABORT', 'ABORTED', now(), now(), now(),
        'no record in the coordinator log: presumed abort (reconciliation)')
      ON CONFLICT (id) DO NOTHING`;
    return n > 0;
  }

  /** Compares a shard's Cohort prepared transactions with the log and resolves strays. */
  async reconcileShard(shard: PostgresShard): Promise<ReconcileReport> {
    const report: ReconcileReport = { shard: shard.name, committed: 0, rolledBack: 0, leftInFlight: 0, errors: [] };
    const prepared = await shard.listPrepared();
    if (prepared.length === 0) return report;
    const parsed = prepared.map((p) => ({ ...p, parsed: shard.parseGid(p.gid) }));
    const ids = [...new Set(parsed.flatMap((p) => (p.parsed ? [p.parsed.txId] : [])))];
    const rows = await this.deps.prisma.$queryRaw<
      { id: string; status: TxStatus; decision: Decision | null; coordinator_id: string | null; owner_live: boolean }[]
    >`
      SELECT t.id::text, t.status::text AS status, t.decision::text AS decision, t.coordinator_id::text AS coordinator_id,
        (i.id IS NOT NULL) AS owner_live
      FROM transactions t
      LEFT JOIN engine_instances i ON i.id = t.coordinator_id AND i.lease_expires_at > now() AND i.stopped_at IS NULL
      WHERE t.id = ANY(${ids}::uuid[])`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const p of parsed) {
      if (!p.parsed) continue; // malformed but prefixed: leave it for a person
      const row = byId.get(p.parsed.txId);
      let commit: boolean;
      let why: string;
      if (!row) {
        // Presumed abort, but only once nothing can still write COMMIT for it: a forced
        // ABORTED tombstone comes first, and the commit-point compare-and-set (which needs a
        // PREPARING row) can never overwrite it. A row that appeared meanwhile wins instead.
        if (!(await this.tombstone(p.parsed.txId))) {
          report.leftInFlight++;
          continue;
        }
        commit = false;
        why = "no record in the coordinator log: presumed abort";
      } else {
        const decidedCommit = row.decision === "COMMIT" || row.status === "COMMITTING" || row.status === "COMMITTED";
        const decidedAbort = row.decision === "ABORT" || row.status === "ABORTING" || row.status === "ABORTED";
        // A live owner, this instance included, drives it: its phase two, the phase-2 queue or
        // its stale sweep. Resolving it here too raced the in-line COMMIT PREPARED ("is busy").
        if (
          row.owner_live &&
          (row.status === "ACTIVE" || row.status === "PREPARING" || row.status === "COMMITTING" || row.status === "ABORTING")
        ) {
          report.leftInFlight++;
          continue;
        }
        if (!decidedCommit && !decidedAbort) {
          report.leftInFlight++; // undecided with a dead owner: the takeover path aborts it
          continue;
        }
        commit = decidedCommit;
        why = `log says ${row.decision ?? row.status}`;
      }
      try {
        if (this.deps.hooks.beforeResolve) await this.deps.hooks.beforeResolve(p.parsed.txId, shard.name, commit);
        const result = await shard.resolveGid(p.gid, commit);
        if (result === "done") {
          if (commit) report.committed++;
          else report.rolledBack++;
          await this.deps.log.append({
            txId: p.parsed.txId,
            type: "reconcile",
            actor: this.deps.actor,
            shard: shard.name,
            data: { gid: p.gid, action: commit ? "COMMIT PREPARED" : "ROLLBACK PREPARED", why, orphan: !row },
          });
        }
      } catch (err) {
        report.errors.push(`${p.gid}: ${errorMessage(err)}`);
      }
    }
    return report;
  }
}

/** Label of the ABORTED record reconciliation writes for a prepared branch the log never knew. */
export const ORPHAN_LABEL = "(orphan prepared transaction)";

export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
