// Phase two: deliver the logged decision to every branch. The first attempt is made in
// line, by whoever drives the transaction; branches it could not reach go to the phase-2
// stream (server/queues), whose consumers on every engine instance retry them with backoff
// and dead-letter them after the delivery limit. The decision is already durable, so this
// work may be redone by anybody, any number of times.
import { CohortError, errorMessage } from "../errors";
import { DeadLetterNow, retryDelay, type QueueEntry } from "../queues/streamQueue";
import { decodePhase2 } from "../queues/phase2Entries";
import type { PostgresShard } from "../participants/postgresShard";
import type { CoordinatorLog, TxStatus } from "./log/coordinatorLog";
import type { Clock, EngineHooks } from "./types";

export interface PhaseTwoDeps {
  instanceId: string;
  log: CoordinatorLog;
  clock: Clock;
  hooks: EngineHooks;
  shard(name: string): PostgresShard | undefined;
  published(id: string, status: TxStatus, label: string): void;
  /** The outcome reached every branch: strict two-phase locking lets go of the locks now. */
  ended(txId: string): void;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Hands branches the first attempt could not reach to the phase-2 queue. */
  enqueue(txId: string, label: string, commit: boolean, shards: string[]): Promise<void>;
  onError(message: string): void;
}

export class PhaseTwo {
  constructor(private readonly deps: PhaseTwoDeps) {}

  /**
   * Tries every branch once; returns the shards still pending, which are handed to the
   * phase-2 queue: its deliveries retry them and write the end record after the last one.
   */
  async drive(
    txId: string,
    label: string,
    commit: boolean,
    shards: string[],
    actor: string,
    opts: { fresh?: boolean } = {},
  ): Promise<string[]> {
    const pending = await this.attempt(txId, label, commit, shards, actor, opts.fresh ?? false);
    if (pending.length > 0) {
      // If this fails (Redis unreachable) the branches' next_retry_at goes stale and the
      // engine's stale sweep drives the transaction again: the log, not the queue, is the truth.
      await this.deps
        .enqueue(txId, label, commit, pending)
        .catch((err: unknown) => this.deps.onError(`queueing phase two of ${txId}: ${errorMessage(err)}`));
    }
    return pending;
  }

  /**
   * Delivers one queued branch outcome. Throws to have the queue retry it later; throws
   * DeadLetterNow when retrying cannot help.
   */
  async deliver(entry: QueueEntry, actor: string): Promise<void> {
    const job = decodePhase2(entry.fields);
    if (!job) throw new DeadLetterNow(`not a phase-2 entry: ${JSON.stringify(entry.fields).slice(0, 200)}`);
    const commit = job.decision === "COMMIT";
    const state = await this.deps.log.branchState(job.tx, job.shard);
    if (!state) {
      // No record at all: presumed abort. Rolling back is always safe; committing is not.
      if (commit) throw new DeadLetterNow(`transaction ${job.tx} has no record in the coordinator log: refusing to commit`);
    } else {
      if (state.ended || (state.branch !== "ACTIVE" && state.branch !== "PREPARED")) return; // delivered already
      const logged = state.decision ?? (state.status === "COMMITTING" ? "COMMIT" : state.status === "ABORTING" ? "ABORT" : null);
      if (logged === null) {
        throw new DeadLetterNow(`transaction ${job.tx} has no logged decision (${state.status}): nothing to deliver`);
      }
      if (logged !== job.decision) {
        throw new DeadLetterNow(`the entry says ${job.decision} but the coordinator log says ${logged}: the log wins`);
      }
    }
    const to = commit ? "COMMITTED" : "ABORTED";
    let note = "";
    try {
      const shard = this.deps.shard(job.shard);
      if (!shard) throw new CohortError("UNKNOWN_SHARD", `shard ${job.shard} is not configured on this engine instance`);
      if (this.deps.hooks.beforeResolve) await this.deps.hooks.beforeResolve(job.tx, job.shard, commit);
      const result = commit ? await shard.commitPrepared(job.tx) : await shard.rollbackPrepared(job.tx);
      if (this.deps.hooks.afterBranchResolved) await this.deps.hooks.afterBranchResolved(job.tx, job.shard, commit);
      if (result === "missing") note = "already resolved on the shard";
    } catch (err) {
      if (state) {
        const delay = retryDelay(entry.deliveries, this.deps.baseDelayMs, this.deps.maxDelayMs);
        await this.deps.log
          .recordDeliveryFailure({
            txId: job.tx,
            shard: job.shard,
            error: errorMessage(err),
            nextRetryAt: new Date(this.deps.clock.now() + delay),
            actor,
          })
          .catch(() => undefined);
      }
      throw err;
    }
    if (!state) return;
    const ended = await this.deps.log.resolveBranch({ txId: job.tx, shard: job.shard, to, note, actor });
    if (ended) {
      this.deps.published(job.tx, to, job.label);
      this.deps.ended(job.tx);
    }
  }

  private async stillOwn(txId: string): Promise<boolean> {
    const row = await this.deps.log.read(txId).catch(() => null);
    return row?.coordinatorId === this.deps.instanceId;
  }

  /**
   * One round over `shards`; returns the ones that failed.
   * @param fresh the coordinator that prepared these branches is delivering its own decision
   *   for the first time, so a prepared transaction that is already gone was resolved outside
   *   Cohort: a heuristic outcome, recorded as an incident for a person to look at.
   */
  private async attempt(
    txId: string,
    label: string,
    commit: boolean,
    shards: string[],
    actor: string,
    fresh: boolean,
  ): Promise<string[]> {
    const outcomes = await Promise.all(
      shards.map(async (name) => {
        try {
          const shard = this.deps.shard(name);
          if (!shard) throw new Error(`shard ${name} is not configured on this engine instance`);
          if (this.deps.hooks.beforeResolve) await this.deps.hooks.beforeResolve(txId, name, commit);
          const result = commit ? await shard.commitPrepared(txId) : await shard.rollbackPrepared(txId);
          if (this.deps.hooks.afterBranchResolved) await this.deps.hooks.afterBranchResolved(txId, name, commit);
          // Gone is only heuristic if nobody else delivered it: a coordinator that stalled
          // past its lease (a paused process) finds its branches finished by its successor.
          if (fresh && result === "missing" && (await this.stillOwn(txId))) {
            await this.deps.log.append({
              txId,
              type: "incident.heuristic",
              actor,
              shard: name,
              data: {
                decision: commit ? "COMMIT" : "ABORT",
                detail:
                  "the prepared transaction was gone when its coordinator delivered the decision: the shard resolved it outside Cohort",
              },
            });
          }
          return { shard: name, ok: true as const, note: result === "missing" ? "already resolved on the shard" : "" };
        } catch (err) {
          return { shard: name, ok: false as const, error: errorMessage(err) };
        }
      }),
    );
    const failed = outcomes.filter((o) => !o.ok);
    const to = commit ? "COMMITTED" : "ABORTED";
    if (failed.length === 0) {
      if (commit && fresh) {
        // The coordinator's own commit: every branch has the outcome, so the locks can go and
        // the caller hears COMMITTED now. The end record is bookkeeping, written with others'
        // in the background; if it is lost the stale sweep drives phase two again and writes
        // it then. (Recovery and operators, off the hot path, wait for it below.)
        this.deps.ended(txId);
        void this.deps.log.finishCommitted({ id: txId, coordinatorId: this.deps.instanceId }).then(
          // Published once the row says so, or a console reading it on the event would see COMMITTING.
          (ended) => ended && this.deps.published(txId, to, label),
          (err: unknown) => this.deps.onError(`end record of ${txId}: ${errorMessage(err)}`),
        );
        return [];
      }
      const ended = commit
        ? await this.deps.log.finishCommitted({ id: txId, coordinatorId: this.deps.instanceId })
        : await this.deps.log.finishAborted({ id: txId, coordinatorId: this.deps.instanceId, doneShards: shards, actor });
      if (ended) this.deps.published(txId, to, label);
      this.deps.ended(txId);
      return [];
    }
    const now = this.deps.clock.now();
    const owned = await this.deps.log.recordPhase2({
      id: txId,
      coordinatorId: this.deps.instanceId,
      done: outcomes.filter((o) => o.ok).map((o) => ({ shard: o.shard, status: to, note: o.note })),
      failed: failed.map((f) => ({
        shard: f.shard,
        error: f.error ?? "unknown error",
        // The queue delivers it again at once; its own failures then record their retry times.
        nextRetryAt: new Date(now + retryDelay(1, this.deps.baseDelayMs, this.deps.maxDelayMs)),
      })),
      actor,
    });
    // Someone else owns the transaction now (takeover, operator): stop retrying.
    return owned ? failed.map((f) => f.shard) : [];
  }
}
