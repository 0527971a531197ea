// Acquire+release pairs per second through the lock service (fencing token, holder
// record, waiter queue check, lock index), against raw `SET NX PX` + a compare-and-delete
// script, at the same concurrency on distinct keys, on the same Redis, in the same run.
// Phases alternate to spread noise. Then the latency of an uncontended acquire, one at a
// time.
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { Config } from "../server/config";
import { startLocalRedis } from "../server/infra/localRedis";
import { LockService } from "../server/locks/lockService";
import { cpuMeter, cpuPer, type CpuUsage } from "./cpu";
import { percentile, round } from "./stats";

const CONCURRENCY = 64;
const TTL_MS = 30_000;

/** The usual single-instance Redis lock release: delete only if the value is still ours. */
const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type RawRedis = Redis & { benchCompareAndDelete(key: string, value: string): Promise<number> };

export async function benchLocks(config: Config, opts: { seconds: number; say: (l: string) => void }) {
  const local = config.REDIS_URL ? null : await startLocalRedis();
  const url = config.REDIS_URL ?? local!.url;
  // Same client settings on both sides, as the engine configures its client.
  const cohortRedis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 3 });
  const rawRedis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 3 }) as RawRedis;
  rawRedis.defineCommand("benchCompareAndDelete", { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  const namespace = `bench${process.pid}`;
  const locks = new LockService({ redis: cohortRedis, host: "bench", namespace });
  try {
    const timed = async (seconds: number, worker: (w: number, stop: () => boolean) => Promise<number>) => {
      let running = true;
      const started = performance.now();
      const cpu = cpuMeter();
      const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w, () => !running));
      await sleep(seconds * 1000);
      running = false;
      const pairs = (await Promise.all(workers)).reduce((a, b) => a + b, 0);
      return { pairs, elapsed: (performance.now() - started) / 1000, cpu: cpu() };
    };

    const cohortRound = (seconds: number) =>
      timed(seconds, async (w, stop) => {
        let n = 0;
        const key = `bench:${w}`;
        while (!stop()) {
          const grant = await locks.acquire({ key, owner: `w${w}.${n}`, ttlMs: TTL_MS, waitMs: 5_000 });
          if (!(await locks.release(grant))) throw new Error(`lost lock ${key}`);
          n++;
        }
        return n;
      });

    const rawRound = (seconds: number) =>
      timed(seconds, async (w, stop) => {
        let n = 0;
        const key = `${namespace}:raw:${w}`;
        while (!stop()) {
          const value = `w${w}.${n}`;
          if ((await rawRedis.set(key, value, "PX", TTL_MS, "NX")) !== "OK") throw new Error(`raw lock ${key} taken`);
          if ((await rawRedis.benchCompareAndDelete(key, value)) !== 1) throw new Error(`raw lock ${key} lost`);
          n++;
        }
        return n;
      });

    opts.say(`locks bench: warming up (concurrency ${CONCURRENCY}, distinct keys, Redis ${url})`);
    await rawRound(1);
    await cohortRound(1);
    const rounds = 2;
    const per = opts.seconds / rounds;
    let cohort = { pairs: 0, elapsed: 0 };
    let raw = { pairs: 0, elapsed: 0 };
    for (let i = 0; i < rounds; i++) {
      const r = await rawRound(per);
      raw = { pairs: raw.pairs + r.pairs, elapsed: raw.elapsed + r.elapsed };
      opts.say(`  round ${i + 1}: raw    ${round(r.pairs / r.elapsed, 0)} pairs/s, ${cpuPerPair(r)}`);
      const c = await cohortRound(per);
      cohort = { pairs: cohort.pairs + c.pairs, elapsed: cohort.elapsed + c.elapsed };
      opts.say(`  round ${i + 1}: cohort ${round(c.pairs / c.elapsed, 0)} pairs/s, ${cpuPerPair(c)}`);
    }

    // Uncontended latency: one client, one pair at a time.
    const latencies: number[] = [];
    const until = performance.now() + Math.min(5, Math.max(1, opts.seconds / 4)) * 1000;
    for (let n = 0; performance.now() < until; n++) {
      const t0 = performance.now();
      const grant = await locks.acquire({ key: "bench:latency", owner: `l.${n}`, ttlMs: TTL_MS, waitMs: 5_000 });
      latencies.push(performance.now() - t0);
      await locks.release(grant);
    }
    latencies.sort((a, b) => a - b);
    opts.say(`  uncontended acquire: ${latencies.length} samples`);

    const cohortRate = cohort.pairs / cohort.elapsed;
    const rawRate = raw.pairs / raw.elapsed;
    return {
      cohort_pairs_per_s: round(cohortRate, 1),
      raw_pairs_per_s: round(rawRate, 1),
      ratio: round(cohortRate / rawRate, 3),
      acquire_p50_ms: round(percentile(latencies, 50), 3),
      acquire_p99_ms: round(percentile(latencies, 99), 3),
    };
  } finally {
    await locks.close();
    // Leave a shared Redis as we found it.
    await cohortRedis.del(`${namespace}:locks:held`, `${namespace}:locks:waiting`).catch(() => undefined);
    cohortRedis.disconnect();
    rawRedis.disconnect();
    await local?.stop();
  }
}

/** Where the time goes: CPU per pair in this process and in the rest of the machine (Redis). */
const cpuPerPair = (r: { pairs: number; cpu: CpuUsage }) => cpuPer(r.pairs, r.cpu, "pair", 1);
