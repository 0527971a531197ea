// The handle application code holds: `tx.run(shard, fn)` does branch work on a pinned
// connection, `tx.commit()` runs two-phase commit, `tx.abort()` gives up. Misuse gets
// a CohortError and never leaves a prepared branch behind.
import type pg from "pg";
import { CohortError, errorMessage, isCohortError } from "../errors";
import { formatGid } from "../participants/gid";
import type { PostgresShard } from "../participants/postgresShard";
import type { LockService } from "../locks/lockService";
import type { LockGrant, LockMode } from "../locks/types";
import { v7 as uuidv7 } from "uuid";
import { assertStorableJson, assertStorableText } from "../db/storableText";
import type { CoordinatorLog, OutboxEventInput, TxStatus, Vote } from "./log/coordinatorLog";
import type { BranchClient, Clock, CommitOutcome, EngineHooks } from "./types";

/** What a transaction needs from its engine. */
export interface TxContext {
  /** The deployment namespace, part of every gid. */
  namespace: string;
  instanceId: string;
  actor: string;
  log: CoordinatorLog;
  clock: Clock;
  hooks: EngineHooks;
  shard(name: string): PostgresShard | undefined;
  shardNames(): string[];
  published(id: string, status: TxStatus, label: string): void;
  /** Runs phase two; resolves after the first attempt, retrying in the background. */
  /**
   * Runs phase two; resolves after the first attempt, retrying in the background. `fresh`
   * (default true) says every branch was prepared by this coordinator, so one found missing
   * was resolved outside Cohort; false where a branch may never have been prepared.
   */
  drivePhase2(txId: string, label: string, commit: boolean, shards: string[], opts?: { fresh?: boolean }): Promise<string[]>;
  /** Called once the handle is finished with, whatever the outcome. */
  released(tx: Transaction): void;
  /** The lock service, when the engine has one. */
  locks: LockService | null;
  /** How much longer than the transaction's deadline a lease lasts: phase two happens after it. */
  lockGraceMs: number;
  /** Releases every lock of a transaction; called once its outcome reached every branch. */
  releaseLocks(txId: string): void;
  /** The engine's counters of critical-path waits (see Engine.costs). */
  costs: { commits: number; criticalSteps: number };
  /** Committed outbox events are waiting: wakes a relay in this process at once. */
  outboxWritten(): void;
}

interface Branch {
  shard: PostgresShard;
  client: pg.PoolClient | null;
  /** Serialises work on the pinned connection: pg clients run one query at a time anyway. */
  queue: Promise<unknown>;
}

type Phase = "active" | "committing" | "committed" | "aborted";

/**
 * How long an abort waits for a branch's statement in flight past the point where the
 * shard should have cancelled it, before it drops the session as unreachable.
 */
const BRANCH_SETTLE_MS = 5_000;

export class Transaction {
  readonly id: string;
  readonly label: string;
  readonly deadline: number;
  readonly startedAt: number;
  private phase: Phase = "active";
  private abortCause: CohortError | null = null;
  /** commit() has begun writing the protocol's records: from then on it alone logs the outcome. */
  private logging = false;
  /** A PREPARE or a commit write was sent: from then on only the log knows the outcome. */
  private commitPossible = false;
  private done = false;
  private readonly branches = new Map<string, Branch>();
  private readonly grants = new Map<string, LockGrant>();
  private readonly events: OutboxEventInput[] = [];
  /** Aborts lock waits when the transaction ends early. */
  private readonly lifetime = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ctx: TxContext,
    init: { id: string; label: string; startedAt: number; deadline: number },
  ) {
    this.id = init.id;
    this.label = init.label;
    this.deadline = init.deadline;
    this.startedAt = init.startedAt;
    this.timer = setTimeout(() => void this.expire(), Math.max(0, this.deadline - ctx.clock.now()));
    this.timer.unref();
  }

  get status(): Phase {
    return this.phase;
  }

  get shards(): string[] {
    return [...this.branches.keys()];
  }

  /** Runs `work` inside this transaction's branch on `shardName`. */
  async run<T>(shardName: string, work: (client: BranchClient) => Promise<T>): Promise<T> {
    this.assertActive();
    const shard = this.ctx.shard(shardName);
    if (!shard) {
      throw new CohortError("UNKNOWN_SHARD", `unknown shard "${shardName}" (known: ${this.ctx.shardNames().join(", ")})`, {
        details: { shard: shardName },
      });
    }
    let branch = this.branches.get(shardName);
    if (!branch) {
      branch = { shard, client: null, queue: Promise.resolve() };
      this.branches.set(shardName, branch);
    }
    const b = branch;
    // Work queued before commit() was called still runs: commit() waits for it.
    const step = b.queue.then(async () => {
      this.assertNotAborted();
      if (!b.client) b.client = await shard.beginBranch(this.remainingMs());
      this.assertNotAborted();
      const result = await work(b.client);
      if (this.ctx.hooks.afterBranchWork) await this.ctx.hooks.afterBranchWork(this.id, shardName);
      return result;
    });
    b.queue = step.catch(() => undefined);
    try {
      return await step;
    } catch (err) {
      if (isCohortError(err) && (err.code === "TX_ABORTED" || err.code === "TX_TIMED_OUT" || err.code === "TX_NOT_ACTIVE")) {
        throw err;
      }
      const failure = new CohortError("BRANCH_FAILED", `branch ${shardName} failed: ${errorMessage(err)}`, {
        cause: err,
        details: { shard: shardName },
      });
      await this.abortUnprepared(failure, `branch ${shardName} failed: ${errorMessage(err)}`);
      throw failure;
    }
  }

  /**
   * Locks `key` until the transaction's outcome has reached every branch (strict two-phase
   * locking). Returns the grant; its fencing token goes into the rows written under it so a
   * shard refuses a holder whose lease has lapsed. Waits at most until the deadline. A
   * deadlock victim is aborted and gets DEADLOCK_VICTIM.
   */
  async lock(key: string, mode: LockMode = "exclusive"): Promise<LockGrant> {
    this.assertActive();
    const locks = this.ctx.locks;
    if (!locks) throw new CohortError("BAD_REQUEST", "this engine has no lock service (start it with a LockService)");
    const held = this.grants.get(key);
    if (held && (held.mode === mode || held.mode === "exclusive")) return held;
    if (held)
      throw new CohortError(
        "BAD_REQUEST",
        `lock ${key} is held shared: upgrading to exclusive is not supported (lock it exclusive first)`,
      );
    const remaining = this.remainingMs();
    try {
      const grant = await locks.acquire({
        key,
        owner: this.id,
        mode,
        ownerStartedAt: this.startedAt,
        ttlMs: remaining + this.ctx.lockGraceMs,
        waitMs: remaining,
        signal: this.lifetime.signal,
      });
      this.grants.set(key, grant);
      if (this.phase !== "active") {
        // Aborted while we waited: do not keep a lock nobody will release.
        await locks.release(grant).catch(() => undefined);
        this.assertActive();
      }
      return grant;
    } catch (err) {
      if (isCohortError(err, "DEADLOCK_VICTIM")) {
        await this.abortUnprepared(err, `deadlock victim: ${err.message}`, "deadlock.victim");
      }
      if (this.abortCause) throw this.abortCause;
      throw err;
    }
  }

  /**
   * Publishes an event through the transactional outbox: it is written with the COMMIT
   * decision and relayed to the outbox stream, so consumers see it if and only if the
   * transaction commits (at least once: deduplicate by the returned event id).
   */
  publish(event: { aggregatetype: string; aggregateid: string; type: string; payload: unknown }): string {
    this.assertActive();
    for (const key of ["aggregatetype", "aggregateid", "type"] as const) {
      const v = event[key];
      if (typeof v !== "string" || v.length === 0 || v.length > 255) {
        throw new CohortError("BAD_REQUEST", `outbox event ${key} must be a string of 1-255 characters`);
      }
      assertStorableText(`outbox event ${key}`, v);
    }
    let size: number;
    let serialised: string;
    try {
      serialised = JSON.stringify(event.payload ?? null);
      size = Buffer.byteLength(serialised);
    } catch (err) {
      throw new CohortError("BAD_REQUEST", `outbox event payload is not JSON: ${errorMessage(err)}`);
    }
    if (size > 64 * 1024) throw new CohortError("BAD_REQUEST", `outbox event payload is ${size} bytes: the limit is 64 KiB`);
    // What is stored is the serialised form (toJSON applied), so that is what must fit jsonb.
    assertStorableJson("outbox event payload", JSON.parse(serialised) as unknown);
    if (this.events.length >= 1000) throw new CohortError("BAD_REQUEST", "a transaction may publish at most 1000 events");
    const id = uuidv7();
    this.events.push({ id, ...event, payload: event.payload ?? null });
    return id;
  }

  /** Locks taken by this transaction, by key. */
  get locks(): ReadonlyMap<string, LockGrant> {
    return this.grants;
  }

  /**
   * Two-phase commit. Resolves once the outcome is decided and phase two was tried once.
   * The answer is the logged truth, never a guess: COMMITTED (COMMITTING while a shard is
   * unreachable), a CohortError for an abort, or OUTCOME_PENDING when the transaction may
   * have committed and the log cannot be read yet (read it later with `engine.outcome(id)`).
   */
  async commit(): Promise<CommitOutcome> {
    this.assertActive();
    this.phase = "committing";
    try {
      return await this.runCommit();
    } catch (err) {
      if (isCohortError(err)) {
        // (runCommit moves the phase on; the cast undoes TypeScript's narrowing from above.)
        if ((this.phase as Phase) !== "committed") this.phase = "aborted";
        throw err;
      }
      return await this.settleAfterFailure(err);
    } finally {
      this.finished();
    }
  }

  private async runCommit(): Promise<CommitOutcome> {
    await Promise.all([...this.branches.values()].map((b) => b.queue));
    if (this.abortCause) throw this.abortCause;
    this.logging = true;
    const shards = [...this.branches.keys()].filter((s) => this.branches.get(s)!.client);
    if (shards.length === 0) return this.commitWithoutBranches();
    // One branch and nothing to publish: the shard's own COMMIT is the whole protocol.
    if (shards.length === 1 && this.events.length === 0) return this.commitOnePhase(shards[0]!);

    this.ctx.costs.criticalSteps++;
    const marked = await this.ctx.log.markPreparing({
      id: this.id,
      label: this.label,
      coordinatorId: this.ctx.instanceId,
      startedAt: new Date(this.startedAt),
      deadlineAt: new Date(this.deadline),
      shards,
      gids: shards.map((s) => formatGid(this.ctx.namespace, this.id, s)),
      events: this.events,
    });
    if (!marked) {
      // Nothing was prepared, so nothing can commit: the abort the caller hears is final.
      await this.rollbackLocalBranches();
      const lost = await this.lostDecision();
      await this.logUnpreparedAbort(lost.code === "TX_TIMED_OUT" ? "timeout" : lost.message, "abort").catch(() => undefined);
      throw lost;
    }
    this.ctx.published(this.id, "PREPARING", this.label);

    // From the first PREPARE on, a branch may be prepared even when its reply is lost.
    this.commitPossible = true;
    this.ctx.costs.criticalSteps++;
    // allSettled, not all: an internal failure on one branch must not start the rollback
    // while another branch's PREPARE is still in flight, or that PREPARE lands after the
    // rollback looked for it and is left behind.
    const settled = await Promise.allSettled(
      shards.map(async (name): Promise<Vote> => {
        const b = this.branches.get(name)!;
        const client = b.client!;
        b.client = null;
        const vote = await b.shard.prepare(client, this.id);
        if (vote.ok && this.ctx.hooks.afterPrepare) await this.ctx.hooks.afterPrepare(this.id, name);
        return vote.ok ? { shard: name, yes: true } : { shard: name, yes: false, error: errorMessage(vote.error) };
      }),
    );
    const failure = settled.find((r) => r.status === "rejected");
    if (failure) throw failure.reason;
    const votes = settled.map((r) => (r as PromiseFulfilledResult<Vote>).value);

    const no = votes.filter((v) => !v.yes);
    if (no.length > 0) {
      const reason = `voted no: ${no.map((v) => `${v.shard} (${v.error})`).join("; ")}`;
      const votedNo = new CohortError("VOTED_NO", reason, { details: { votes } });
      const decided = await this.ctx.log.decideAbort({
        id: this.id,
        coordinatorId: this.ctx.instanceId,
        reason,
        votes,
        actor: this.ctx.actor,
      });
      if (!decided) return this.afterLostCompareAndSet(shards, votedNo);
      this.phase = "aborted";
      this.ctx.published(this.id, "ABORTING", this.label);
      // A no vote may be a PREPARE whose reply was lost: with ABORT logged, rolling back a
      // branch that is not there is harmless, and one that is must not wait for reconciliation.
      await this.ctx.drivePhase2(this.id, this.label, false, shards, { fresh: false }).catch(() => undefined); // ABORT is logged: the stale sweep finishes what this could not
      throw votedNo;
    }

    this.ctx.costs.criticalSteps++;
    const committed = await this.ctx.log.decideCommit({ id: this.id, coordinatorId: this.ctx.instanceId });
    if (!committed) return this.afterLostCompareAndSet(shards, await this.lostDecision());
    if (this.events.length > 0) this.ctx.outboxWritten();
    return this.committedNow(shards);
  }

  /** Nothing to prepare: the one record that says COMMITTED is the decision and the end. */
  private async commitWithoutBranches(): Promise<CommitOutcome> {
    // The commit write is the decision: from the moment it is sent only the log knows.
    this.commitPossible = true;
    this.ctx.costs.criticalSteps++;
    const committed = await this.ctx.log.commitWithoutBranches({
      id: this.id,
      label: this.label,
      coordinatorId: this.ctx.instanceId,
      startedAt: new Date(this.startedAt),
      deadlineAt: new Date(this.deadline),
      events: this.events,
    });
    if (!committed) {
      const lost = await this.lostDecision();
      if (lost.code === "TX_TIMED_OUT") await this.logUnpreparedAbort("timeout", "timeout").catch(() => undefined);
      this.phase = "aborted";
      throw lost;
    }
    if (this.events.length > 0) this.ctx.outboxWritten();
    this.ctx.published(this.id, "COMMITTED", this.label);
    this.phase = "committed";
    this.ctx.costs.commits++;
    this.ctx.releaseLocks(this.id);
    return { id: this.id, status: "COMMITTED" };
  }

  /**
   * One-phase commit (Gray & Reuter's one-participant optimisation): the only branch commits
   * locally, with no PREPARE and no forced log write, and that COMMIT is the commit point.
   * The log gets its record afterwards, for the console. When the COMMIT's reply is lost the
   * shard is asked what became of its transaction id; only when it cannot say is the
   * transaction logged in doubt (PREPARING, one_phase) for recovery to ask again.
   */
  private async commitOnePhase(name: string): Promise<CommitOutcome> {
    const b = this.branches.get(name)!;
    const client = b.client!;
    b.client = null;
    if (this.ctx.clock.now() >= this.deadline) {
      await b.shard.rollbackLocal(client);
      await this.logUnpreparedAbort("timeout", "timeout").catch(() => undefined);
      throw new CohortError("TX_TIMED_OUT", `transaction ${this.id} passed its deadline before the commit point`);
    }
    this.commitPossible = true;
    this.ctx.costs.criticalSteps++;
    const result = await b.shard.commitOnePhase(client, this.id);
    if (result.outcome === "aborted") {
      this.phase = "aborted";
      const reason = `branch ${name} failed to commit: ${errorMessage(result.error)}`;
      await this.logUnpreparedAbort(reason, "abort").catch(() => undefined);
      throw new CohortError("BRANCH_FAILED", reason, { cause: result.error, details: { shard: name } });
    }
    const record = {
      id: this.id,
      label: this.label,
      coordinatorId: this.ctx.instanceId,
      startedAt: new Date(this.startedAt),
      deadlineAt: new Date(this.deadline),
      shard: name,
      gid: formatGid(this.ctx.namespace, this.id, name),
    };
    if (result.outcome === "unknown") {
      await this.ctx.log.recordOnePhaseInDoubt({
        ...record,
        pid: result.pid,
        error: errorMessage(result.error),
        actor: this.ctx.actor,
      });
      throw this.outcomePending(`the reply to ${name}'s COMMIT was lost and the shard cannot be asked yet`, result.error);
    }
    this.phase = "committed";
    if (this.ctx.hooks.afterDecision) await this.ctx.hooks.afterDecision(this.id);
    this.ctx.costs.commits++;
    this.ctx.published(this.id, "COMMITTED", this.label);
    this.ctx.releaseLocks(this.id);
    void this.ctx.log.recordOnePhase(record).catch(() => undefined); // history only: the commit happened on the shard
    return { id: this.id, status: "COMMITTED" };
  }

  /** The COMMIT decision is logged: phase two can be late, never change the outcome. */
  private async committedNow(shards: string[]): Promise<CommitOutcome> {
    this.phase = "committed";
    this.ctx.published(this.id, "COMMITTING", this.label);
    if (this.ctx.hooks.afterDecision) await this.ctx.hooks.afterDecision(this.id);
    this.ctx.costs.criticalSteps++;
    this.ctx.costs.commits++;
    const pending = await this.ctx.drivePhase2(this.id, this.label, true, shards).catch(() => shards);
    return pending.length === 0
      ? { id: this.id, status: "COMMITTED" }
      : { id: this.id, status: "COMMITTING", pendingShards: pending };
  }

  /**
   * A compare-and-set of ours found the transaction changed: a timeout, an operator, a
   * takeover. The log says what happened; `lost` is the answer if that is an abort.
   */
  private async afterLostCompareAndSet(shards: string[], lost: CohortError): Promise<CommitOutcome> {
    if (lost.code === "TX_TIMED_OUT") {
      // Still ours, past the deadline: abort it now (a no-op when someone else decided).
      await this.ctx.log.decideAbort({
        id: this.id,
        coordinatorId: this.ctx.instanceId,
        reason: "timeout",
        actor: this.ctx.actor,
        recordType: "timeout",
      });
    }
    const current = await this.ctx.log.read(this.id);
    if (current?.decision === "COMMIT") {
      // An operator's force-commit (or a takeover's redo) won: the transaction commits, and
      // whoever logged the decision drives phase two.
      this.phase = "committed";
      return current.status === "COMMITTED"
        ? { id: this.id, status: "COMMITTED" }
        : {
            id: this.id,
            status: "COMMITTING",
            pendingShards: current.branches.filter((b) => b.status !== "COMMITTED").map((b) => b.shard),
          };
    }
    if (current?.decision !== "ABORT") {
      // Undecided and no longer ours (taken over while this process stalled): the new owner
      // decides. Rolling back here could race an operator's force-commit, so leave it be.
      throw this.outcomePending("the transaction was taken over before its decision", null);
    }
    this.phase = "aborted";
    if (current.coordinatorId === this.ctx.instanceId && current.status === "ABORTING") {
      this.ctx.published(this.id, "ABORTING", this.label);
      await this.ctx.drivePhase2(this.id, this.label, false, shards, { fresh: false }).catch(() => undefined);
    } else if (shards.length > 0) {
      // ABORT is logged by someone else (an operator, a takeover), who may have looked for
      // our prepared branches before our PREPARE landed. With ABORT logged, rolling back is
      // always safe, so undo what we prepared rather than leave it to reconciliation.
      await Promise.all(
        shards.map((s) =>
          this.ctx
            .shard(s)
            ?.rollbackPrepared(this.id)
            .catch(() => undefined),
        ),
      );
    }
    throw lost;
  }

  /**
   * commit() failed on something other than the protocol's own answers: a dropped
   * connection to the log or a shard, a lost reply. Before any PREPARE or commit write the
   * transaction cannot commit and the abort is final. After one, the log decides: an ABORT
   * compare-and-set makes an undecided transaction final (a COMMIT that landed first wins
   * it), and when the log cannot be reached the caller hears OUTCOME_PENDING.
   */
  private async settleAfterFailure(err: unknown): Promise<CommitOutcome> {
    await this.rollbackLocalBranches().catch(() => undefined);
    const shards = [...this.branches.keys()];
    const reason = `internal failure during commit: ${errorMessage(err)}`;
    const aborted = new CohortError("TX_ABORTED", `transaction ${this.id} aborted: ${errorMessage(err)}`, { cause: err });
    if (!this.commitPossible) {
      this.phase = "aborted";
      // The PREPARING record may or may not have been written (its write is what failed).
      await this.ctx.log
        .decideAbort({ id: this.id, coordinatorId: this.ctx.instanceId, reason, actor: this.ctx.actor })
        .then(async (ok) => {
          if (ok) await this.ctx.drivePhase2(this.id, this.label, false, shards, { fresh: false });
          else await this.logUnpreparedAbort(reason, "abort");
        })
        .catch(() => undefined); // nothing was prepared; a PREPARING record left behind is aborted by the stale sweep
      throw aborted;
    }
    let lastError: unknown = err;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      let decidedAbort: boolean;
      let current: Awaited<ReturnType<CoordinatorLog["read"]>>;
      try {
        decidedAbort = await this.ctx.log.decideAbort({
          id: this.id,
          coordinatorId: this.ctx.instanceId,
          reason,
          actor: this.ctx.actor,
        });
        current = decidedAbort ? null : await this.ctx.log.read(this.id);
      } catch (readErr) {
        lastError = readErr;
        continue;
      }
      if (decidedAbort) {
        this.phase = "aborted";
        this.ctx.published(this.id, "ABORTING", this.label);
        await this.ctx.drivePhase2(this.id, this.label, false, shards, { fresh: false }).catch(() => undefined);
        throw aborted;
      }
      if (current?.decision === "COMMIT") {
        this.phase = "committed";
        if (current.coordinatorId === this.ctx.instanceId && current.status === "COMMITTING") {
          const pending = current.branches.filter((b) => b.status === "ACTIVE" || b.status === "PREPARED").map((b) => b.shard);
          const left = await this.ctx.drivePhase2(this.id, this.label, true, pending).catch(() => pending);
          return left.length === 0
            ? { id: this.id, status: "COMMITTED" }
            : { id: this.id, status: "COMMITTING", pendingShards: left };
        }
        return current.status === "COMMITTED"
          ? { id: this.id, status: "COMMITTED" }
          : { id: this.id, status: "COMMITTING", pendingShards: shards };
      }
      if (current?.decision === "ABORT") return this.afterLostCompareAndSet(shards, aborted);
      throw this.outcomePending("the log shows no decision this instance may settle", err);
    }
    throw this.outcomePending(`the coordinator log cannot be read: ${errorMessage(lastError)}`, err);
  }

  private outcomePending(why: string, cause: unknown): CohortError {
    this.phase = "aborted"; // this handle is finished with either way
    return new CohortError(
      "OUTCOME_PENDING",
      `the outcome of transaction ${this.id} is not known yet (${why}); read it later with engine.outcome(id)`,
      { cause, details: { id: this.id } },
    );
  }

  /** Gives up before commit. Nothing was prepared, so nothing needs to be forced. */
  async abort(reason = "aborted by application"): Promise<void> {
    if (this.phase === "aborted") return;
    this.assertActive();
    await this.abortUnprepared(new CohortError("TX_ABORTED", `transaction ${this.id} was aborted: ${reason}`), reason);
  }

  private async abortUnprepared(cause: CohortError, reason: string, recordType = "abort"): Promise<void> {
    if (this.phase === "aborted" || this.phase === "committed") return;
    this.phase = "aborted";
    this.abortCause = cause;
    this.lifetime.abort(cause);
    await this.rollbackLocalBranches();
    // Once commit() writes the protocol's records it owns the log transitions (it may be
    // between PREPARING and a PREPARE). Before that (a branch failing while commit() waits
    // for it) nothing is prepared, and the abort is logged here.
    if (!this.logging) {
      await this.logUnpreparedAbort(reason, recordType);
      this.finished();
    }
  }

  /**
   * The record of an abort before any PREPARE (begin is lazy, so there is none yet), and the
   * locks go: nothing was prepared, so the rows are free.
   */
  private async logUnpreparedAbort(reason: string, recordType: string): Promise<void> {
    const ok = await this.ctx.log
      .recordUnpreparedAbort({
        id: this.id,
        label: this.label,
        coordinatorId: this.ctx.instanceId,
        startedAt: new Date(this.startedAt),
        deadlineAt: new Date(this.deadline),
        reason,
        actor: this.ctx.actor,
        recordType,
      })
      .catch(() => false);
    if (ok) this.ctx.published(this.id, "ABORTED", this.label);
    this.ctx.releaseLocks(this.id);
  }

  private async rollbackLocalBranches(): Promise<void> {
    await Promise.all(
      [...this.branches.values()].map(async (b) => {
        // Wait for the query in flight (the shard cancels it at the deadline) before rolling
        // back; a shard that stopped answering gets its session dropped instead.
        const settled = await Promise.race([
          b.queue.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), BRANCH_SETTLE_MS).unref()),
        ]);
        const client = b.client;
        b.client = null;
        if (!client) return;
        if (settled) await b.shard.rollbackLocal(client);
        else b.shard.discardBranch(client);
      }),
    );
  }

  private async expire(): Promise<void> {
    if (this.phase !== "active") return; // commit() checks the deadline at the commit point
    await this.abortUnprepared(
      new CohortError("TX_TIMED_OUT", `transaction ${this.id} timed out after ${this.deadline - this.startedAt} ms`),
      "timeout",
      "timeout",
    ).catch(() => undefined);
  }

  private async lostDecision(): Promise<CohortError> {
    const row = await this.ctx.log.read(this.id).catch(() => null);
    if (this.ctx.clock.now() >= this.deadline && row?.status !== "ABORTING" && row?.status !== "ABORTED") {
      return new CohortError("TX_TIMED_OUT", `transaction ${this.id} passed its deadline before the commit point`);
    }
    // No row: the PREPARING record was refused, and within the deadline only a lapsed lease does that.
    const why = !row
      ? "this engine instance's lease ran out before the commit began (a pause longer than the lease), so it may not start one"
      : (row.abortReason ??
        (row.coordinatorId !== this.ctx.instanceId ? "taken over by another engine instance" : "deadline passed"));
    return new CohortError("TX_ABORTED", `transaction ${this.id} was aborted before the commit point: ${why}`, {
      details: { status: row?.status ?? null },
    });
  }

  private remainingMs(): number {
    const ms = this.deadline - this.ctx.clock.now();
    if (ms <= 0) throw new CohortError("TX_TIMED_OUT", `transaction ${this.id} passed its deadline`);
    return ms;
  }

  private assertActive(): void {
    if (this.phase === "active") return;
    this.assertNotAborted();
    throw new CohortError("TX_NOT_ACTIVE", `transaction ${this.id} is ${this.phase}; no more work or commits are accepted`);
  }

  private assertNotAborted(): void {
    if (this.abortCause) throw this.abortCause;
  }

  private finished(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.ctx.released(this);
  }
}
