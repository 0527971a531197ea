// Recovery (DESIGN.md §2): take over the unfinished transactions of instances whose
// lease ran out, finish them by the log (no decision → abort, decision → redo phase
// two), and reconcile each shard's prepared transactions against the log.
import { errorMessage } from "../errors";
import type { PrismaClient } from "../db/prisma";
import type { PostgresShard } from "../participants/postgresShard";
import type { CoordinatorLog, TxStatus } from "./log/coordinatorLog";
import { claimOne, claimOrphaned, reconcileRows, stalledOwned, tombstone, type ClaimedTx } from "./log/claims";
import { isOpenState, loggedDecision, mayAbort } from "./log/states";
import type { PhaseTwo } from "./phaseTwo";
import type { EngineHooks } from "./types";

export type { ClaimedTx };

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
  /** The outcome reached every branch: the transaction's locks can go. */
  ended(txId: string): void;
}

export class Recovery {
  constructor(private readonly deps: RecoveryDeps) {}

  /** Claims up to `batch` unfinished transactions whose coordinator is gone (log/claims.ts). */
  claimOrphaned(batch = 500): Promise<ClaimedTx[]> {
    return claimOrphaned(this.deps.prisma, this.claimant, batch);
  }

  private get claimant() {
    return { me: this.deps.instanceId, actor: this.deps.actor };
  }

  /**
   * Our own unfinished transactions that nothing in this process is driving any more
   * (a commit that failed half-way on an infrastructure error): finish them by the log.
   * `busy` holds the ids of the transactions this process is working on.
   */
  async recoverStale(busy: { has(txId: string): boolean }, olderThanMs: number): Promise<number> {
    const stale = await stalledOwned(this.deps.prisma, this.deps.instanceId, olderThanMs, this.deps.queuedGraceMs);
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
  claimOne(txId: string, by: string): Promise<ClaimedTx | null> {
    return claimOne(this.deps.prisma, this.claimant, txId, by);
  }

  /** Finishes one claimed transaction according to the log; returns shards still pending. */
  async finish(tx: ClaimedTx): Promise<string[]> {
    const shards = tx.shards;
    if (tx.onePhase && loggedDecision(tx) === null) return this.settleOnePhase(tx);
    if (loggedDecision(tx) === "COMMIT") return this.deps.phaseTwo.drive(tx.id, tx.label, true, shards, this.deps.actor);
    if (mayAbort(tx)) {
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

  /**
   * A one-phase commit whose reply was lost (Transaction.commitOnePhase): there is nothing
   * prepared to resolve, only the shard's answer to learn. Asks the shard about the local
   * transaction id logged with it and writes what it says; a shard that cannot be asked
   * leaves it in doubt for the next sweep. Returns the shards still pending.
   */
  private async settleOnePhase(tx: ClaimedTx): Promise<string[]> {
    const name = tx.shards[0];
    const shard = this.deps.shards.find((s) => s.name === name);
    if (!shard) return tx.shards; // not configured here: an instance that has it settles it
    const status = await shard.settleOnePhase(tx.id, await this.deps.log.onePhasePid(tx.id), 5_000);
    if (status === "unknown") return tx.shards;
    const committed = status === "committed";
    if (
      await this.deps.log.settleOnePhase({ id: tx.id, coordinatorId: this.deps.instanceId, committed, actor: this.deps.actor })
    ) {
      this.deps.published(tx.id, committed ? "COMMITTED" : "ABORTED", tx.label);
      this.deps.ended(tx.id);
    }
    return [];
  }

  /**
   * Copies a shard's one-phase commit evidence into the log (older than `graceMs`: the
   * coordinator's own record normally lands within milliseconds) and deletes what the log
   * now holds. This is how a one-phase commit whose coordinator died before its record
   * still reaches the log. Returns how many records it wrote or settled.
   */
  async sweepOnePhaseEvidence(shard: PostgresShard, graceMs = ONE_PHASE_GRACE_MS): Promise<number> {
    await shard.ensureOnePhaseTable();
    const evidence = await shard.listOnePhaseEvidence(graceMs);
    if (evidence.length === 0) return 0;
    const done = await this.deps.log.recordOnePhaseEvidence(
      shard.name,
      evidence.map((e) => ({ txId: e.txId, gid: shard.gid(e.txId), committedAt: e.committedAt })),
      this.deps.actor,
    );
    await shard.deleteOnePhaseEvidence(done);
    return done.length;
  }

  /** Compares a shard's Cohort prepared transactions with the log and resolves strays. */
  async reconcileShard(shard: PostgresShard): Promise<ReconcileReport> {
    const report: ReconcileReport = { shard: shard.name, committed: 0, rolledBack: 0, leftInFlight: 0, errors: [] };
    const prepared = await shard.listPrepared();
    if (prepared.length === 0) return report;
    const parsed = prepared.map((p) => ({ ...p, parsed: shard.parseGid(p.gid) }));
    const ids = [...new Set(parsed.flatMap((p) => (p.parsed ? [p.parsed.txId] : [])))];
    const rows = await reconcileRows(this.deps.prisma, ids);
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
        if (!(await tombstone(this.deps.prisma, p.parsed.txId, ORPHAN_LABEL))) {
          report.leftInFlight++;
          continue;
        }
        commit = false;
        why = "no record in the coordinator log: presumed abort";
      } else {
        const decided = loggedDecision(row);
        // A live owner, this instance included, drives it: its phase two, the phase-2 queue or
        // its stale sweep. Resolving it here too raced the in-line COMMIT PREPARED ("is busy").
        if (row.owner_live && isOpenState(row.status)) {
          report.leftInFlight++;
          continue;
        }
        if (!decided) {
          report.leftInFlight++; // undecided with a dead owner: the takeover path aborts it
          continue;
        }
        commit = decided === "COMMIT";
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

/** How old one-phase evidence must be before reconciliation copies it into the log. */
const ONE_PHASE_GRACE_MS = 5_000;

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
