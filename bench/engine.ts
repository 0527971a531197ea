// Committed transfers per second through Cohort, against baselines run at the same
// concurrency, on the same databases, in the same run (phases alternate to spread noise):
// - two-shard: the same two statements as two independent local commits (the baseline),
//   and with PostgreSQL's own PREPARE / COMMIT PREPARED and no coordinator (raw 2PC);
// - one-shard: one statement as a plain local commit, against Cohort's one-phase commit.
// Besides the rates it prints what a commit costs the coordinator, measured, not modelled:
// statements, forced writes and rows written in the coordinator database per committed
// transaction, the sequential waits on commit()'s critical path, and CPU by process role.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Config } from "../server/config";
import { LEG_SQL } from "../server/sim/transfer";
import { applyLeg } from "../server/sim/transfer";
import { pickCrossShardPair, startWorkload } from "../server/sim/workload";
import { startBankBench } from "./bankBench";
import { cpuByRole, cpuRolesPer } from "./cpu";
import { percentile, round } from "./stats";

const CONCURRENCY = 32;
const ACCOUNTS = 20_000;

interface Round {
  committed: number;
  elapsed: number;
  cpu: Record<string, number>;
  latencies?: number[];
}

export async function benchEngine(config: Config, opts: { seconds: number; say: (l: string) => void }) {
  // Cohort and the baselines route by the same ring.
  const { env, stack, placement, close } = await startBankBench(config, { shards: 2, accounts: ACCOUNTS, poolSize: CONCURRENCY });
  const baselinePools = new Map(env.shards.map((s) => [s.name, new pg.Pool({ connectionString: s.url, max: CONCURRENCY })]));
  const coordinatorDb = new URL(env.databaseUrl).pathname.slice(1);
  const statsPool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });
  const statements = countStatements(stack.db.pool, stack.lazyDb.pool);
  try {
    const shardOf = (account: number) => placement.locate(String(account));
    const measured = async (
      seconds: number,
      run: (stop: () => boolean) => Promise<{ committed: number; latencies?: number[] }>,
    ) => {
      const cpu = await cpuByRole({ pool: statsPool, coordinatorDb, redis: stack.redis });
      const started = performance.now();
      let running = true;
      const result = run(() => !running);
      await sleep(seconds * 1000);
      running = false;
      const r = await result;
      const elapsed = (performance.now() - started) / 1000;
      return { ...r, elapsed, cpu: await cpu() } satisfies Round;
    };

    const cohortRound = (seconds: number) =>
      measured(seconds, async (stopped) => {
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
        while (!stopped()) await sleep(20);
        await wl.stop();
        return { committed, latencies };
      });

    /** One deposit leg on one shard per transaction, through Cohort: its one-phase commit. */
    const cohortOneShardRound = (seconds: number) =>
      measured(seconds, async (stopped) => {
        let committed = 0;
        const latencies: number[] = [];
        const worker = async () => {
          while (!stopped()) {
            const account = Math.floor(Math.random() * ACCOUNTS);
            const began = performance.now();
            const tx = await stack.engine.begin({ label: "deposit" });
            await tx.run(shardOf(account), (c) => applyLeg(c, tx.id, account, 1 + Math.floor(Math.random() * 100)));
            const r = await tx.commit();
            if (r.status === "COMMITTED") {
              committed++;
              latencies.push(performance.now() - began);
            }
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        return { committed, latencies };
      });

    /** The same deposit as a plain local commit: BEGIN, the leg, COMMIT. */
    const localOneShardRound = (seconds: number) =>
      measured(seconds, async (stopped) => {
        let committed = 0;
        const worker = async () => {
          while (!stopped()) {
            const account = Math.floor(Math.random() * ACCOUNTS);
            const client = await baselinePools.get(shardOf(account))!.connect();
            try {
              await client.query("BEGIN");
              await client.query(LEG_SQL, [account, 1 + Math.floor(Math.random() * 100), randomUUID()]);
              await client.query("COMMIT");
            } finally {
              client.release();
            }
            committed++;
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        return { committed };
      });

    /**
     * The same two statements without Cohort, as two local commits (the baseline) or with
     * PostgreSQL's own 2PC and no coordinator at all (PREPARE on both shards, then COMMIT
     * PREPARED).
     */
    const rawRound = (seconds: number, twoPhase: boolean) =>
      measured(seconds, async (stopped) => {
        let committed = 0;
        const worker = async () => {
          while (!stopped()) {
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
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        return { committed };
      });

    const rate = (r: { committed: number; elapsed: number }) => r.committed / r.elapsed;
    const line = (name: string, r: Round) =>
      opts.say(`  ${name.padEnd(16)} ${String(round(rate(r), 0)).padStart(5)} tx/s   ${cpuRolesPer(r.committed, r.cpu, "tx")}`);

    opts.say(`engine bench: warming up (concurrency ${CONCURRENCY}, ${ACCOUNTS} accounts on 2 shards)`);
    await rawRound(1, false);
    await cohortRound(1);
    await cohortOneShardRound(1);
    const rounds = 2;
    const per = opts.seconds / rounds;
    const totals = new Map<string, { committed: number; elapsed: number }>();
    const add = (name: string, r: Round) => {
      const t = totals.get(name) ?? { committed: 0, elapsed: 0 };
      totals.set(name, { committed: t.committed + r.committed, elapsed: t.elapsed + r.elapsed });
      line(name, r);
    };
    const latencies: number[] = [];
    const costs = { committed: 0, statements: 0, forced: 0, rows: 0, steps: 0 };
    for (let i = 0; i < rounds; i++) {
      opts.say(` round ${i + 1}:`);
      add("baseline", await rawRound(per, false));
      const rows0 = await rowsWritten(statsPool, coordinatorDb, [stack.db.pool, stack.lazyDb.pool]);
      const s0 = statements.read();
      const k0 = stack.engine.costs();
      const c = await cohortRound(per);
      const k1 = stack.engine.costs();
      const s1 = statements.read();
      const rows1 = await rowsWritten(statsPool, coordinatorDb, [stack.db.pool, stack.lazyDb.pool]);
      add("cohort 2PC", c);
      latencies.push(...(c.latencies ?? []));
      costs.committed += c.committed;
      costs.statements += s1.all - s0.all;
      costs.forced += s1.forcedWrites - s0.forcedWrites;
      costs.rows += rows1 - rows0;
      costs.steps += k1.criticalSteps - k0.criticalSteps;
      add("raw 2PC", await rawRound(per / 2, true));
      add("local 1-shard", await localOneShardRound(per / 2));
      add("cohort 1-shard", await cohortOneShardRound(per / 2));
    }
    latencies.sort((a, b) => a - b);
    const tps = (name: string) => rate(totals.get(name)!);
    const per_tx = (n: number) => round(n / Math.max(1, costs.committed), 2);
    return {
      cohort_tps: round(tps("cohort 2PC"), 1),
      baseline_tps: round(tps("baseline"), 1),
      ratio: round(tps("cohort 2PC") / tps("baseline"), 3),
      raw_2pc_ratio: round(tps("raw 2PC") / tps("baseline"), 3),
      one_phase_ratio: round(tps("cohort 1-shard") / tps("local 1-shard"), 3),
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      // Per committed two-shard transaction, in the coordinator database:
      statements_per_tx: per_tx(costs.statements),
      rows_per_tx: per_tx(costs.rows),
      forced_per_tx: per_tx(costs.forced),
      // Sequential waits on commit()'s critical path (log writes and shard round trips).
      round_trips_per_tx: per_tx(costs.steps),
      raw_2pc_tps: round(tps("raw 2PC"), 1),
      one_phase_tps: round(tps("cohort 1-shard"), 1),
      local_one_shard_tps: round(tps("local 1-shard"), 1),
    };
  } finally {
    await Promise.all([...baselinePools.values()].map((p) => p.end()));
    await statsPool.end();
    await close();
  }
}

/**
 * Counts the statements sent to the coordinator database through the engine's pools, and
 * among them the writes on the synchronous-commit pool (each one waits for a WAL flush).
 * A group-commit batch is one statement however many transactions it carries.
 */
function countStatements(forced: pg.Pool, lazy: pg.Pool) {
  const counts = { all: 0, forcedWrites: 0 };
  const wrap = (pool: pg.Pool, isForced: boolean) => {
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as { query: unknown }).query = (...args: unknown[]) => {
      counts.all++;
      const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string } | undefined)?.text;
      if (isForced && text && /\b(INSERT|UPDATE|DELETE)\b/i.test(text)) counts.forcedWrites++;
      return query(...args);
    };
  };
  wrap(forced, true);
  wrap(lazy, false);
  return { read: () => ({ ...counts }) };
}

/**
 * Rows inserted, updated and deleted in the coordinator database so far. PostgreSQL's
 * backends report their counters when a transaction ends at least a second after their
 * last report, so every pooled connection runs one statement after a pause first.
 */
async function rowsWritten(statsPool: pg.Pool, db: string, pools: pg.Pool[]): Promise<number> {
  await sleep(1_100);
  await Promise.all(pools.flatMap((p) => Array.from({ length: p.totalCount }, () => p.query("SELECT pg_sleep(0.05)"))));
  const { rows } = await statsPool.query<{ n: string }>(
    "SELECT tup_inserted + tup_updated + tup_deleted AS n FROM pg_stat_database WHERE datname = $1",
    [db],
  );
  return Number(rows[0]?.n ?? 0);
}
