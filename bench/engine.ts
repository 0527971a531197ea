// Committed two-shard transfers per second through Cohort, against a baseline that runs
// the same two statements as two independent local commits (no 2PC), at the same
// concurrency, on the same databases, in the same run. Phases alternate to spread noise.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Config } from "../server/config";
import { LEG_SQL } from "../server/sim/transfer";
import { pickCrossShardPair, startWorkload } from "../server/sim/workload";
import { startBankBench } from "./bankBench";
import { cpuMeter, cpuPer, type CpuUsage } from "./cpu";
import { percentile, round } from "./stats";

const CONCURRENCY = 32;
const ACCOUNTS = 20_000;

export async function benchEngine(config: Config, opts: { seconds: number; say: (l: string) => void }) {
  // Cohort and the baselines route by the same ring.
  const { env, stack, placement, close } = await startBankBench(config, { shards: 2, accounts: ACCOUNTS, poolSize: CONCURRENCY });
  const baselinePools = new Map(env.shards.map((s) => [s.name, new pg.Pool({ connectionString: s.url, max: CONCURRENCY })]));
  try {
    const shardOf = (account: number) => placement.locate(String(account));

    const cohortRound = async (seconds: number) => {
      const latencies: number[] = [];
      let committed = 0;
      const wl = startWorkload(stack.engine, {
        accounts: ACCOUNTS,
        concurrency: CONCURRENCY,
        rate: 0,
        placement,
        // Pure two-phase commit, as the baseline does: the outbox has its own bench (queues).
        publish: false,
        onResult: (r, ms) => {
          if (r.outcome === "committed") {
            committed++;
            latencies.push(ms);
          }
        },
      });
      const started = performance.now();
      const cpu = cpuMeter();
      await sleep(seconds * 1000);
      await wl.stop();
      return { committed, elapsed: (performance.now() - started) / 1000, latencies, cpu: cpu() };
    };

    /**
     * The same two statements without Cohort, as two local commits (the baseline) or with
     * PostgreSQL's own 2PC and no coordinator at all (PREPARE on both shards, then COMMIT
     * PREPARED): the latter is the ceiling for any 2PC coordinator on this machine.
     */
    const rawRound = async (seconds: number, twoPhase: boolean) => {
      let committed = 0;
      let running = true;
      const worker = async () => {
        while (running) {
          const [from, to] = pickCrossShardPair(ACCOUNTS, placement);
          const amount = 1 + Math.floor(Math.random() * 100);
          const id = randomUUID();
          const legs = [
            { account: from, delta: -amount },
            { account: to, delta: amount },
          ].sort((a, b) => a.account - b.account);
          const gid = (account: number) => `'bench:${id}:${account}'`;
          for (const leg of legs) {
            const client = await baselinePools.get(shardOf(leg.account))!.connect();
            try {
              await client.query("BEGIN");
              await client.query(LEG_SQL, [leg.account, leg.delta, id]);
              await client.query(twoPhase ? `PREPARE TRANSACTION ${gid(leg.account)}` : "COMMIT");
            } finally {
              client.release();
            }
          }
          if (twoPhase) {
            await Promise.all(
              legs.map((leg) => baselinePools.get(shardOf(leg.account))!.query(`COMMIT PREPARED ${gid(leg.account)}`)),
            );
          }
          committed++;
        }
      };
      const started = performance.now();
      const cpu = cpuMeter();
      const workers = Array.from({ length: CONCURRENCY }, worker);
      await sleep(seconds * 1000);
      running = false;
      await Promise.all(workers);
      return { committed, elapsed: (performance.now() - started) / 1000, cpu: cpu() };
    };
    const baselineRound = (seconds: number) => rawRound(seconds, false);
    const raw2pcRound = (seconds: number) => rawRound(seconds, true);

    opts.say(`engine bench: warming up (concurrency ${CONCURRENCY}, ${ACCOUNTS} accounts on 2 shards)`);
    await baselineRound(1);
    await cohortRound(1);
    const rounds = 2;
    const per = opts.seconds / rounds;
    let cohort = { committed: 0, elapsed: 0 };
    let baseline = { committed: 0, elapsed: 0 };
    let raw2pc = { committed: 0, elapsed: 0 };
    const latencies: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const b = await baselineRound(per);
      baseline = { committed: baseline.committed + b.committed, elapsed: baseline.elapsed + b.elapsed };
      opts.say(`  round ${i + 1}: baseline ${round(b.committed / b.elapsed, 0)} tx/s, ${cpuPerTx(b)}`);
      const c = await cohortRound(per);
      cohort = { committed: cohort.committed + c.committed, elapsed: cohort.elapsed + c.elapsed };
      latencies.push(...c.latencies);
      opts.say(`  round ${i + 1}: cohort   ${round(c.committed / c.elapsed, 0)} tx/s, ${cpuPerTx(c)}`);
      const r = await raw2pcRound(per / 2);
      raw2pc = { committed: raw2pc.committed + r.committed, elapsed: raw2pc.elapsed + r.elapsed };
      opts.say(`  round ${i + 1}: raw 2PC  ${round(r.committed / r.elapsed, 0)} tx/s, ${cpuPerTx(r)}`);
    }
    latencies.sort((a, b) => a - b);
    const cohortTps = cohort.committed / cohort.elapsed;
    const baselineTps = baseline.committed / baseline.elapsed;
    return {
      cohort_tps: round(cohortTps, 1),
      baseline_tps: round(baselineTps, 1),
      ratio: round(cohortTps / baselineTps, 3),
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      // Context, not the goal: PostgreSQL's PREPARE/COMMIT PREPARED with no coordinator.
      raw_2pc_tps: round(raw2pc.committed / raw2pc.elapsed, 1),
      raw_2pc_ratio: round(raw2pc.committed / raw2pc.elapsed / baselineTps, 3),
    };
  } finally {
    await Promise.all([...baselinePools.values()].map((p) => p.end()));
    await close();
  }
}

/** Where the time goes: CPU per committed transaction in this process and in the rest of the machine. */
const cpuPerTx = (r: { committed: number; cpu: CpuUsage }) => cpuPer(r.committed, r.cpu, "tx");
