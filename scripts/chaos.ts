// npm run chaos -- [--runs N] [--concurrency C] [--json]
// Runs the workload in a child process, SIGKILLs it at random moments and at each
// protocol step, starts a new engine, waits for recovery, then checks the invariants.
import { spawn } from "node:child_process";
import path from "node:path";
import { loadConfig } from "../server/config";
import { createEngineStack } from "../server/engine/createEngine";
import { createScratchEnvironment } from "../server/infra/scratchEnvironment";
import { DEFAULT_NAMESPACE } from "../server/participants/gid";
import { PostgresShard } from "../server/participants/postgresShard";
import { ensureBankSchema, INITIAL_BALANCE, seedAccounts } from "../server/sim/bankSchema";
import { checkInvariants } from "../server/sim/invariants";
import { waitFor } from "../server/testing/waitFor";
import type { ChaosWorkerArgs } from "./chaosWorker";
import { CHAOS_USAGE, parseChaosArgs, runCli } from "./cli";

const KILL_MODES = ["random", "branch-work", "after-prepare", "after-decision", "mid-phase2"] as const;
const ACCOUNTS = 200;
const LEASE_MS = 1_000;

runCli("chaos", async () => {
  const args = parseChaosArgs(process.argv.slice(2));
  if (args.help) return console.log(CHAOS_USAGE);
  const { runs, concurrency } = args;
  const say = (line: string) => {
    if (!args.json) console.log(line);
  };

  const env = await createScratchEnvironment(loadConfig(), { purpose: "chaos", shards: 3 });
  const checkShards = env.shards.map((s) => new PostgresShard({ ...s, namespace: DEFAULT_NAMESPACE, poolSize: 2 }));
  try {
    for (const s of checkShards) await ensureBankSchema(s);
    await seedAccounts(checkShards, ACCOUNTS);
    const expectedTotal = ACCOUNTS * INITIAL_BALANCE;
    let kills = 0;
    let last = { violations: 0, unresolved: 0, orphans: 0, transactions: 0, details: [] as string[] };
    for (let run = 1; run <= runs; run++) {
      const killAt = KILL_MODES[(run - 1) % KILL_MODES.length]!;
      const occurrence = 3 + Math.floor(Math.random() * 40);
      const { databaseUrl, redisUrl, shards } = env;
      const victim = { databaseUrl, redisUrl, shards, accounts: ACCOUNTS, concurrency, leaseMs: LEASE_MS, killAt, occurrence };
      const killed = await runVictim(victim, say);
      if (killed) kills++;
      // A fresh instance recovers once the victim's lease has run out.
      const recoverer = createEngineStack({ ...env, options: { leaseMs: LEASE_MS, heartbeatMs: 200 } });
      await recoverer.engine.start();
      try {
        await waitFor(
          async () =>
            (await recoverer.prisma.transaction.count({ where: { status: { notIn: ["COMMITTED", "ABORTED"] } } })) === 0,
          30_000,
          "every transaction terminal",
        ).catch(() => undefined);
        // Prepared transactions of a transaction that was aborted before its branch rows were
        // read are found by the shard reconciliation, which normally runs periodically.
        await recoverer.engine.reconcile();
        last = await checkInvariants(recoverer.prisma, checkShards, expectedTotal, { outboxUnrelayed: true });
      } finally {
        await recoverer.close();
      }
      say(
        `run ${run}/${runs}: killed ${killed ? `at ${killAt}` : "(exited by itself)"}; ${last.transactions} transfers in the log; ` +
          `violations ${last.violations}, unresolved ${last.unresolved}, orphans ${last.orphans}`,
      );
      for (const d of last.details) say(`  ${d}`);
      if (last.violations || last.unresolved || last.orphans) break;
    }
    const summary = { runs, kills, violations: last.violations, unresolved: last.unresolved, orphans: last.orphans };
    console.log(JSON.stringify(summary));
    return summary.violations || summary.unresolved || summary.orphans || kills < runs ? 1 : 0;
  } finally {
    await Promise.all(checkShards.map((s) => s.close()));
    await env.stop();
  }
});

/** Starts a worker, lets it kill itself at `killAt` (or kills it at a random moment). */
function runVictim(args: ChaosWorkerArgs, say: (line: string) => void): Promise<boolean> {
  const { killAt } = args;
  const worker = path.join(import.meta.dirname, "chaosWorker.ts");
  const child = spawn(process.execPath, ["--import", "tsx", worker, JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (c: Buffer) => {
      if (!c.toString().includes("ready")) return;
      // Random kills land anywhere; step kills get a backstop in case the step is rare.
      const delay = killAt === "random" ? 200 + Math.random() * 2_000 : 15_000;
      timer = setTimeout(() => child.kill("SIGKILL"), delay);
    });
    child.on("exit", (_code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL" && stderr) say(`  worker stderr: ${stderr.trim().slice(0, 500)}`);
      resolve(signal === "SIGKILL");
    });
  });
}
