// Phase two: deliver the logged decision to every branch, retrying with backoff until
// each one is done. The decision is already durable, so this work may be redone by
// anybody who owns the transaction later (recovery, another instance).
import { errorMessage } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import { backoffDelay } from "./backoff";
import type { CoordinatorLog, TxStatus } from "./coordinatorLog";
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
  /** Keeps retry loops that outlive the call, so stop() can wait for them and the stale sweep skips them. */
  background(work: Promise<unknown>, txId: string): void;
  stopping(): boolean;
  onError(message: string): void;
}

export class PhaseTwo {
  constructor(private readonly deps: PhaseTwoDeps) {}

  /**
   * Tries every branch once; returns the shards still pending. When some are pending a
   * background loop keeps retrying them and writes the end record when all are done.
   */
  async drive(
    txId: string,
    label: string,
    commit: boolean,
    shards: string[],
    actor: string,
    opts: { fresh?: boolean } = {},
  ): Promise<string[]> {
    const pending = await this.attempt(txId, label, commit, shards, actor, 0, opts.fresh ?? false);
    if (pending.length > 0) this.deps.background(this.retry(txId, label, commit, pending, actor), txId);
    return pending;
  }

  private async retry(txId: string, label: string, commit: boolean, shards: string[], actor: string): Promise<void> {
    let pending = shards;
    for (let attempt = 1; pending.length > 0 && !this.deps.stopping(); attempt++) {
      await sleep(backoffDelay(attempt, this.deps.baseDelayMs, this.deps.maxDelayMs), this.deps.stopping);
      if (this.deps.stopping()) return;
      pending = await this.attempt(txId, label, commit, pending, actor, attempt).catch((err) => {
        this.deps.onError(`phase two of ${txId}: ${errorMessage(err)}`);
        return pending;
      });
    }
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
    attempt: number,
    fresh = false,
  ): Promise<string[]> {
    const outcomes = await Promise.all(
      shards.map(async (name) => {
        try {
          const shard = this.deps.shard(name);
          if (!shard) throw new Error(`shard ${name} is not configured on this engine instance`);
          if (this.deps.hooks.beforeResolve) await this.deps.hooks.beforeResolve(txId, name, commit);
          const result = commit ? await shard.commitPrepared(txId) : await shard.rollbackPrepared(txId);
          if (this.deps.hooks.afterBranchResolved) await this.deps.hooks.afterBranchResolved(txId, name, commit);
          if (fresh && result === "missing") {
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
      const ended = commit
        ? await this.deps.log.finishCommitted({ id: txId, coordinatorId: this.deps.instanceId, doneShards: shards, actor })
        : await this.deps.log.finish({
            id: txId,
            coordinatorId: this.deps.instanceId,
            from: ["ABORTING"],
            to,
            doneShards: shards,
            actor,
          });
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
        nextRetryAt: new Date(now + backoffDelay(attempt + 1, this.deps.baseDelayMs, this.deps.maxDelayMs, () => 1)),
      })),
      actor,
    });
    // Someone else owns the transaction now (takeover, operator): stop retrying.
    return owned ? failed.map((f) => f.shard) : [];
  }
}

function sleep(ms: number, cancelled: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = () => {
      if (cancelled() || Date.now() - started >= ms) return resolve();
      setTimeout(tick, Math.min(100, ms - (Date.now() - started))).unref();
    };
    tick();
  });
}
