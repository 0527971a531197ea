// Random transfers between accounts on different shards at a configured rate and
// concurrency. Rate 0 means as fast as the concurrency allows (benchmarks).
import type { Engine } from "../engine/engine";
import { errorMessage } from "../errors";
import { shardOfAccount } from "./bankSchema";
import { transfer, type TransferResult } from "./transfer";

export interface WorkloadOptions {
  accounts: number;
  concurrency: number;
  /** Transfers started per second over all workers; 0 = unthrottled. */
  rate: number;
  timeoutMs?: number;
  maxAmount?: number;
  onResult?(result: TransferResult, latencyMs: number): void;
  onError?(message: string): void;
}

export interface WorkloadStats {
  started: number;
  committed: number;
  aborted: number;
  insufficient: number;
  errors: number;
}

export interface Workload {
  stats: WorkloadStats;
  stop(): Promise<void>;
}

export function pickCrossShardPair(accounts: number, shardNames: string[], random: () => number = Math.random): [number, number] {
  for (;;) {
    const a = Math.floor(random() * accounts);
    const b = Math.floor(random() * accounts);
    if (a !== b && (shardNames.length === 1 || shardOfAccount(a, shardNames) !== shardOfAccount(b, shardNames))) return [a, b];
  }
}

export function startWorkload(engine: Engine, opts: WorkloadOptions): Workload {
  const stats: WorkloadStats = { started: 0, committed: 0, aborted: 0, insufficient: 0, errors: 0 };
  let running = true;
  const intervalMs = opts.rate > 0 ? (1000 * opts.concurrency) / opts.rate : 0;
  const worker = async () => {
    while (running) {
      const began = performance.now();
      const [from, to] = pickCrossShardPair(opts.accounts, engine.shardNames);
      const amount = 1 + Math.floor(Math.random() * (opts.maxAmount ?? 100));
      stats.started++;
      try {
        const result = await transfer(engine, from, to, amount, opts.timeoutMs);
        if (result.outcome === "committed" || result.outcome === "committing") stats.committed++;
        else if (result.outcome === "insufficient") stats.insufficient++;
        else stats.aborted++;
        opts.onResult?.(result, performance.now() - began);
      } catch (err) {
        stats.errors++;
        if (!running) return;
        opts.onError?.(errorMessage(err));
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
