// Random transfers between accounts on different shards at a configured rate and
// concurrency. Rate 0 means as fast as the concurrency allows (benchmarks). A share of them
// (sameShardShare, default none) moves money between two accounts on one shard and
// publishes no event: the engine commits those in one phase.
import type { Engine } from "../engine/engine";
import { errorMessage } from "../errors";
import { initialPlacement, type AccountPlacement } from "./placement";
import { transfer, type TransferObservers, type TransferResult } from "./transfer";

export interface WorkloadOptions {
  accounts: number;
  concurrency: number;
  /** Transfers started per second over all workers; 0 = unthrottled. */
  rate: number;
  timeoutMs?: number;
  maxAmount?: number;
  /**
   * Where accounts are: the process's live router (server/ring/accountRouter.ts) when the
   * ring can change. Default: the initial ring over the engine's shards, fixed, which is
   * where seedAccounts puts accounts without a placement.
   */
  placement?: AccountPlacement;
  /** Lock both accounts (tx.lock) and fence the writes with the tokens; needs an engine with a lock service. */
  lockAccounts?: boolean;
  /** Publish a "transfer.completed" outbox event per transfer (default true). */
  publish?: boolean;
  /**
   * The share of transfers (0..1, default 0) between two accounts on the SAME shard. Those
   * publish no outbox event whatever `publish` says, so that the engine commits them in one
   * phase (one branch, nothing to publish): observers.onBegin tells which ones they are.
   */
  sameShardShare?: number;
  /** Accounts used are accountOffset .. accountOffset+accounts-1 (default 0): two workloads on one bank keep apart. */
  accountOffset?: number;
  /** Sees every commit() answer and fenced write (the chaos campaign's history). */
  observers?: TransferObservers;
  onResult?(result: TransferResult, latencyMs: number): void;
  onError?(message: string, err: unknown): void;
}

export interface WorkloadStats {
  started: number;
  committed: number;
  aborted: number;
  insufficient: number;
  errors: number;
  /** Transfers that found an account moved by a rebalance and ran again on fresh routing. */
  rerouted: number;
}

export interface Workload {
  stats: WorkloadStats;
  stop(): Promise<void>;
}

/** Two distinct accounts on different shards (on the same one only after many tries: a one-shard ring). */
export function pickCrossShardPair(
  accounts: number,
  placement: AccountPlacement,
  random: () => number = Math.random,
  offset = 0,
): [number, number] {
  for (let tries = 0; ; tries++) {
    const a = offset + Math.floor(random() * accounts);
    const b = offset + Math.floor(random() * accounts);
    if (a !== b && (tries >= 100 || placement.locate(String(a)) !== placement.locate(String(b)))) return [a, b];
  }
}

/** Two distinct accounts on the same shard (on different ones only after many tries: too few accounts). */
export function pickSameShardPair(
  accounts: number,
  placement: AccountPlacement,
  random: () => number = Math.random,
  offset = 0,
): [number, number] {
  const a = offset + Math.floor(random() * accounts);
  const shard = placement.locate(String(a));
  for (let tries = 0; ; tries++) {
    const b = offset + Math.floor(random() * accounts);
    if (a !== b && (tries >= 100 || placement.locate(String(b)) === shard)) return [a, b];
  }
}

export function startWorkload(engine: Engine, opts: WorkloadOptions): Workload {
  const stats: WorkloadStats = { started: 0, committed: 0, aborted: 0, insufficient: 0, errors: 0, rerouted: 0 };
  let running = true;
  const intervalMs = opts.rate > 0 ? (1000 * opts.concurrency) / opts.rate : 0;
  const placement = opts.placement ? Promise.resolve(opts.placement) : initialPlacement(engine.shardNames);
  const worker = async () => {
    const place = await placement;
    while (running) {
      const began = performance.now();
      const sameShard = (opts.sameShardShare ?? 0) > 0 && Math.random() < opts.sameShardShare!;
      const [from, to] = (sameShard ? pickSameShardPair : pickCrossShardPair)(
        opts.accounts,
        place,
        Math.random,
        opts.accountOffset ?? 0,
      );
      const amount = 1 + Math.floor(Math.random() * (opts.maxAmount ?? 100));
      stats.started++;
      try {
        const result = await transfer(engine, place, from, to, amount, opts.timeoutMs, {
          lockAccounts: opts.lockAccounts ?? false,
          publish: !sameShard && (opts.publish ?? true),
          ...(opts.observers ? { observers: opts.observers } : {}),
        });
        if (result.rerouted) stats.rerouted++;
        if (result.outcome === "committed" || result.outcome === "committing") stats.committed++;
        else if (result.outcome === "insufficient") stats.insufficient++;
        else stats.aborted++;
        opts.onResult?.(result, performance.now() - began);
      } catch (err) {
        stats.errors++;
        if (!running) return;
        opts.onError?.(errorMessage(err), err);
        await new Promise((r) => setTimeout(r, 200));
      }
      const wait = intervalMs - (performance.now() - began);
      if (wait > 0 && running) await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
    }
  };
  const workers = Array.from({ length: opts.concurrency }, () => worker());
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}
