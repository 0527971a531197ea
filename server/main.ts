// `npm start`: the demo and the production entry point. Without DATABASE_URL / SHARD_URLS /
// REDIS_URL it starts an embedded PostgreSQL and a local redis-server; then it runs one
// engine instance, the bank-transfer workload and the console on one HTTP server.
import { ensureDemoUsers } from "./auth/demoUsers";
import { loadConfig } from "./config";
import { ensureBuild } from "./console/ensureBuild";
import { startConsole, type ConsoleHandle } from "./console/startConsole";
import { createEngineStack, type EngineStack } from "./engine/createEngine";
import { errorMessage } from "./errors";
import { bootstrapInfrastructure, type Infrastructure } from "./infra/bootstrap";
import { removeRuntimeFile, writeRuntimeFile } from "./infra/runtimeFile";
import type { RingService } from "./ring/ringService";
import { startRing } from "./ring/startRing";
import { ensureBankSchema, seedAccounts } from "./sim/bankSchema";
import { startWorkload, type Workload } from "./sim/workload";

const log = (line: string) => console.log(`[cohort] ${line}`);

async function main(): Promise<void> {
  const config = loadConfig();
  const dev = process.argv.includes("--dev");
  let infra: Infrastructure | null = null;
  let stack: EngineStack | null = null;
  let workload: Workload | null = null;
  let ring: RingService | null = null;
  let consoleHandle: ConsoleHandle | null = null;
  let stoppingSince = 0;

  const shutdown = async (signal: string) => {
    if (stoppingSince) {
      // tsx relays the terminal's Ctrl-C that the process group already delivered: the
      // same keypress arrives twice within milliseconds. Only a later one forces the exit.
      if (Date.now() - stoppingSince < 1_000) return;
      log("second signal: exiting now");
      process.exit(1);
    }
    stoppingSince = Date.now();
    log(`${signal}: shutting down (press Ctrl-C again to force)`);
    const step = async (what: string, work: (() => Promise<unknown>) | undefined) => {
      if (!work) return;
      log(`stopping ${what}…`);
      await work().catch((e: unknown) => log(`${what}: ${errorMessage(e)}`));
    };
    await removeRuntimeFile(config.COHORT_DATA_DIR);
    await step("workload", workload?.stop);
    await step("rebalance executor", ring?.stop.bind(ring));
    await step("console", consoleHandle?.close);
    await step("engine", stack?.close);
    await step("databases", infra?.stop);
    log("stopped");
    process.exit(0);
  };
  // Next.js installs handlers that only log; a coordinator in an unknown state must not
  // keep running, and a restart is safe because recovery finishes whatever was in flight.
  const crash = (err: unknown) => {
    // While shutting down, clients closed under pending commands reject late: not a crash.
    if (stoppingSince) return;
    console.error(`[cohort] fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(70);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  log("starting infrastructure…");
  infra = await bootstrapInfrastructure(config, log);
  for (const line of infra.started) log(`started ${line}`);
  stack = createEngineStack({
    databaseUrl: infra.databaseUrl,
    redisUrl: infra.redisUrl,
    shards: infra.shards,
    options: {
      leaseMs: config.ENGINE_LEASE_MS,
      heartbeatMs: config.ENGINE_HEARTBEAT_MS,
      defaultTimeoutMs: config.ENGINE_TX_TIMEOUT_MS,
    },
    log,
  });
  const { recovered, reconciled } = await stack.engine.start();
  const strays = reconciled.reduce((n, r) => n + r.committed + r.rolledBack, 0);
  log(
    `engine ${stack.engine.instanceId} up on ${infra.shards.length} shard(s); recovered ${recovered} transaction(s), resolved ${strays} stray prepared transaction(s)`,
  );
  // No default credentials (DESIGN.md §7): a fresh database gets demo users, printed once.
  await ensureDemoUsers(stack.prisma, { password: config.COHORT_DEMO_PASSWORD, print: (text) => console.log(text) });

  // Accounts are routed by the consistent-hash ring (server/ring): its first version, the
  // live router, and the executor of a rebalance a previous process left unfinished.
  // The bank's tables first: the ring's start-up pass puts misplaced accounts where they belong.
  if (config.SIM_ENABLED === "1") for (const shard of stack.shards) await ensureBankSchema(shard);
  ring = await startRing({ prisma: stack.prisma, redis: stack.redis, engine: stack.engine, shards: stack.shards, log });

  if (config.SIM_ENABLED === "1") {
    await seedAccounts(stack.shards, config.SIM_ACCOUNTS, ring.router);
    workload = startWorkload(stack.engine, {
      accounts: config.SIM_ACCOUNTS,
      concurrency: config.SIM_CONCURRENCY,
      rate: config.SIM_RATE,
      placement: ring.router,
      lockAccounts: true,
      onError: (m) => log(`workload: ${m}`),
    });
    log(
      `workload: ${config.SIM_RATE || "unthrottled"} transfers/s over ${config.SIM_ACCOUNTS} accounts, concurrency ${config.SIM_CONCURRENCY}`,
    );
  }

  if (!dev) await ensureBuild({ log });
  consoleHandle = await startConsole({
    runtime: {
      config,
      prisma: stack.prisma,
      pool: stack.db.pool,
      redis: stack.redis,
      shardNames: stack.engine.shardNames,
      shards: stack.shards,
      engine: stack.engine,
      locks: stack.locks,
    },
    host: config.HOST,
    port: config.PORT,
    dev,
    log,
  });
  await writeRuntimeFile(config.COHORT_DATA_DIR, {
    pid: process.pid,
    databaseUrl: infra.databaseUrl,
    redisUrl: infra.redisUrl,
    shards: infra.shards,
    consoleUrl: consoleHandle.url,
  });
  log(`console ready at ${consoleHandle.url}`);
}

main().catch((err) => {
  console.error(`[cohort] failed to start: ${errorMessage(err)}`);
  process.exit(1);
});
