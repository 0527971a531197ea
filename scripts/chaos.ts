// npm run chaos -- [--nemesis all|kill,pause,…] [--runs N] [--engines N] [--json] [--seed S]
//
// A fault campaign in the manner of Jepsen. Each run builds a fresh system (two deployments
// sharing three shard databases and one Redis; scripts/chaos/topology.ts), lets deployment A's
// engines run the bank workload while one nemesis injects real faults (process kills and
// pauses, network partitions and lost replies through TCP proxies, Redis restarts without
// data, stepped Redis clocks, operator actions), heals everything, lets the system settle,
// and checks the whole history (scripts/chaos/checker.ts). Prints, per nemesis, the runs,
// the faults injected and the violations by kind; exits 1 when there is any.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { loadConfig } from "../server/config";
import { errorMessage } from "../server/errors";
import { ensureBuild } from "../server/console/ensureBuild";
import { ensureDatabase, migrateCoordinatorDatabase, withDatabase } from "../server/infra/databases";
import { startEmbeddedPostgres } from "../server/infra/embeddedPostgres";
import { checkRun, newViolations, type Violations } from "./chaos/checker";
import { killAllChildren, type Child } from "./chaos/children";
import { healAll, newRecord, runNemesis, type NemesisContext, type NemesisName } from "./chaos/nemeses";
import { startClockShiftedRedis, type ClockShiftedRedis } from "../server/testing/clockShiftedRedis";
import { buildTopology, type CampaignServers, type Topology } from "./chaos/topology";
import { CHAOS_USAGE, parseChaosArgs, runCli } from "./cli";

/** Transfers per second per engine: enough to keep every protocol step busy on two cores. */
const RATE_PER_ENGINE = 25;
const WARMUP_MS = 1_500;
/** The workload keeps running this long after healing, so recovery happens under load. */
const AFTER_HEAL_MS = 2_000;
/** How long commit() calls get to answer once the workload is told to stop. */
const QUIESCE_MS = 20_000;
/** Every transaction terminal, no prepared transaction left, the outbox relayed: within this after healing. */
const SETTLE_MS = 30_000;

/** The run in progress, for a Ctrl-C to tear down. */
const currentRun: { topology: Topology | null } = { topology: null };

interface NemesisSummary {
  runs: number;
  faults: number;
  violations: Record<string, number>;
  /** The operator nemesis: its HTTP actions by answer, e.g. "force-abort 409" → n. */
  operatorAnswers?: Record<string, number>;
}

runCli("chaos", async () => {
  const args = parseChaosArgs(process.argv.slice(2));
  if (args.help) return console.log(CHAOS_USAGE);
  const seed = args.seed ?? randomBytes(4).readUInt32BE(0);
  const rng = mulberry32(seed);
  const say = (line: string) => {
    if (!args.json) console.log(line);
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "cohort-chaos-"));
  say(
    `chaos: seed ${seed}, nemeses ${args.nemeses.join(",")}, ${args.runs} run(s) each, ${args.engines} engines, ${args.deployments} deployment(s); logs in ${workDir}`,
  );

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    killAllChildren();
    await currentRun.topology?.close().catch(() => undefined);
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  // Ctrl-C (or a CI timeout's SIGTERM): children, proxies, redis-server and PostgreSQL go with
  // us. Later signals are ignored while that runs (tsx relays the terminal's Ctrl-C a second
  // time, and the default handler would exit half-way), within a hard deadline.
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`chaos: ${signal}, stopping every process of the campaign…`);
      setTimeout(() => process.exit(130), 30_000).unref();
      void stopAll().finally(() => process.exit(130));
    });
  }

  try {
    // Only the clock-step nemesis needs the clock shim (and so cc).
    const servers = await startServers(workDir, stops, args.nemeses.includes("clock-step"));
    if (servers.redis.clockShifted) say("chaos: redis-server's clock is stepped by server/testing/clockShift.c (LD_PRELOAD)");
    // The operator nemesis runs the production console: built once, before the first run
    // (a no-op when .next is newer than the console's sources).
    if (args.nemeses.includes("operator")) await ensureBuild({ log: say });
    const summary: Record<string, NemesisSummary> = {};
    let total = 0;
    for (const nemesis of args.nemeses) {
      const s: NemesisSummary = { runs: 0, faults: 0, violations: {} };
      summary[nemesis] = s;
      for (let run = 1; run <= args.runs; run++) {
        const label = `${nemesis} ${run}/${args.runs}`;
        const result = await oneRun(servers, nemesis, `${nemesis}-${run}`, args, rng, say).catch((err: unknown): RunResult => {
          // A run that could not even be judged is a failure of the campaign, and counted.
          const v = newViolations();
          v.counts["campaign-error"] = 1;
          v.examples["campaign-error"] = errorMessage(err).slice(0, 400);
          return { faults: 0, transfers: 0, violations: v, notes: [], phases: [], operatorAnswers: {} };
        });
        s.runs++;
        s.faults += result.faults;
        for (const [key, n] of Object.entries(result.operatorAnswers)) {
          s.operatorAnswers ??= {};
          s.operatorAnswers[key] = (s.operatorAnswers[key] ?? 0) + n;
        }
        const n = Object.values(result.violations.counts).reduce((a, b) => a + b, 0);
        total += n;
        for (const [kind, count] of Object.entries(result.violations.counts)) {
          s.violations[kind] = (s.violations[kind] ?? 0) + count;
        }
        // Logs and histories are kept for runs that found something, to read; the rest go.
        if (n === 0) fs.rmSync(path.join(workDir, `${nemesis}-${run}`), { recursive: true, force: true });
        say(
          `${label}: ${result.faults} fault(s), ${result.transfers} transfers, ${n ? `${n} violation(s)` : "no violations"} (${result.phases.join(", ")})`,
        );
        for (const note of result.notes.slice(0, 8)) say(`    fault: ${note}`);
        for (const [kind, count] of Object.entries(result.violations.counts)) {
          say(`    ${kind} ×${count}: ${result.violations.examples[kind]}`);
        }
      }
    }
    if (args.json) console.log(JSON.stringify({ seed, nemeses: summary, violations: total }));
    else {
      say("\nsummary:");
      for (const [name, s] of Object.entries(summary)) {
        const kinds = Object.entries(s.violations)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ");
        say(`  ${name.padEnd(16)} runs ${s.runs}, faults ${s.faults}, violations: ${kinds || "none"}`);
        if (s.operatorAnswers) {
          const answers = Object.entries(s.operatorAnswers)
            .map(([k, n]) => `${k} ×${n}`)
            .join(", ");
          say(`  ${"".padEnd(16)} operator actions by answer: ${answers}`);
        }
      }
      say(`${total} violation(s) in total${total ? `; histories and logs of those runs in ${workDir}` : ""}`);
    }
    if (total === 0) fs.rmSync(workDir, { recursive: true, force: true });
    return total > 0 ? 1 : 0;
  } finally {
    await stopAll();
  }
});

/** PostgreSQL (the config's server, or an embedded one), the campaign's redis-server, a migrated template. */
async function startServers(workDir: string, stops: (() => Promise<void>)[], shiftClock: boolean): Promise<CampaignServers> {
  const config = loadConfig();
  let serverUrl = config.DATABASE_URL;
  if (!serverUrl) {
    const handle = await startEmbeddedPostgres({ dataDir: path.join(workDir, "pg"), persistent: false });
    stops.push(handle.stop);
    serverUrl = withDatabase(handle.baseUrl, "postgres");
  }
  const redis = await startClockShiftedRedis({ dir: path.join(workDir, "redis"), shiftClock });
  stops.push(() => redis.stop());
  const templateDb = `chaos_template_${randomBytes(3).toString("hex")}`;
  await ensureDatabase(serverUrl, templateDb);
  await migrateCoordinatorDatabase(withDatabase(serverUrl, templateDb));
  const url = serverUrl;
  stops.push(async () => {
    const c = new pg.Client({ connectionString: withDatabase(url, "postgres") });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${templateDb}" WITH (FORCE)`).finally(() => c.end());
  });
  return { serverUrl, redis, templateDb, workDir };
}

interface RunResult {
  faults: number;
  transfers: number;
  violations: Violations;
  notes: string[];
  /** How long each phase of the run took. */
  phases: string[];
  operatorAnswers: Record<string, number>;
}

async function oneRun(
  servers: CampaignServers,
  nemesis: NemesisName,
  run: string,
  args: { engines: number; concurrency: number; windowS: number; deployments: number },
  rng: () => number,
  say: (line: string) => void,
): Promise<RunResult> {
  const phases: string[] = [];
  let mark = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${((Date.now() - mark) / 1000).toFixed(1)}s`);
    mark = Date.now();
  };
  await flushRedis(servers.redis);
  const topo = await buildTopology(servers, {
    engines: args.engines,
    concurrency: args.concurrency,
    rate: RATE_PER_ENGINE,
    run,
    deployments: args.deployments,
    console: nemesis === "operator",
  });
  phase("setup");
  currentRun.topology = topo;
  try {
    const record = newRecord();
    const ctx: NemesisContext = { topo, redis: servers.redis, rng, windowMs: args.windowS * 1000, record, log: say };
    await sleep(WARMUP_MS);
    try {
      await runNemesis(nemesis, ctx);
    } finally {
      await healAll(ctx);
    }
    phase("faults");
    await sleep(AFTER_HEAL_MS);
    const crashedEarly = crashed(topo);
    // A supervisor restarts what crashed, so the checks judge recovery, not an empty deployment
    // (the crash itself is a violation all the same).
    for (const c of crashedEarly.filter((c) => c.args.role === "engine" && c.args.deployment === "a")) {
      record.notes.push(`supervisor: ${c.name} crashed, a replacement starts`);
      await topo.addEngine().catch((err: unknown) => say(`    replacement for ${c.name} failed: ${errorMessage(err)}`));
    }
    // Stop the workloads: every commit() in flight must answer.
    const hung: string[] = [];
    const running = topo.allChildren().filter((c) => !c.exit);
    for (const c of running) c.send({ cmd: "quiesce" });
    await Promise.all(running.map((c) => c.next("quiesced", QUIESCE_MS).catch(() => hung.push(c.name))));
    phase("quiesce");
    const settled = await settle(topo);
    phase("settle");
    if (!settled) say(`    (not settled within ${SETTLE_MS / 1000} s of healing: the checks say what is left)`);
    const crashedAll = [...new Set([...crashedEarly, ...crashed(topo)])];
    const violations = await checkRun({ topo, record, redisUrl: servers.redis.url, hung, crashed: crashedAll });
    phase("check");
    return {
      faults: record.faults,
      transfers: await countTransfers(topo),
      violations,
      notes: record.notes,
      phases,
      operatorAnswers: record.operatorAnswers,
    };
  } finally {
    currentRun.topology = null;
    await topo.close();
    phase("teardown");
  }
}

/** Children that exited without the nemesis making them. */
function crashed(topo: Topology): Child[] {
  return topo.allChildren().filter((c) => c.exit && !c.killExpected);
}

/**
 * Waits until nothing is unfinished: transactions, prepared branches, one-phase commit
 * evidence not yet copied into the log (engines reconcile it after a 5 s grace), A's
 * unrelayed outbox, A's consumer.
 */
async function settle(topo: Topology): Promise<boolean> {
  const pools = [
    ...[topo.a, topo.b].map((d) => new pg.Pool({ connectionString: d.databaseUrl, max: 1 })),
    ...topo.shards.map((s) => new pg.Pool({ connectionString: s.url, max: 1 })),
  ];
  const [logA, logB, ...shards] = pools as [pg.Pool, pg.Pool, ...pg.Pool[]];
  const count = async (pool: pg.Pool, sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
  const until = Date.now() + SETTLE_MS;
  try {
    while (Date.now() < until) {
      const left =
        (await count(logA, "SELECT count(*) AS n FROM transactions WHERE ended_at IS NULL").catch(() => 1)) +
        (await count(logB, "SELECT count(*) AS n FROM transactions WHERE ended_at IS NULL").catch(() => 1)) +
        (await count(logA, "SELECT count(*) AS n FROM outbox").catch(() => 1));
      let prepared = 0;
      for (const s of shards) {
        prepared += await count(s, "SELECT count(*) AS n FROM pg_prepared_xacts WHERE database = current_database()").catch(
          () => 1,
        );
        prepared += await count(s, "SELECT count(*) AS n FROM cohort_one_phase").catch(() => 0);
      }
      if (left + prepared === 0) {
        await sleep(1_500); // the consumer reads what the relay just wrote
        return true;
      }
      await sleep(250);
    }
    return false;
  } finally {
    for (const p of pools) await p.end().catch(() => undefined);
  }
}

async function countTransfers(topo: Topology): Promise<number> {
  const c = new pg.Client({ connectionString: topo.a.databaseUrl });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM transactions")).rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

async function flushRedis(redis: ClockShiftedRedis): Promise<void> {
  const r = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  r.on("error", () => undefined);
  try {
    await r.flushall();
  } finally {
    r.disconnect();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small seeded PRNG: the nemeses' choices repeat with --seed (their timing cannot). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
