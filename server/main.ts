// `npm start`: the demo and the production entry point. Without DATABASE_URL / SHARD_URLS /
// REDIS_URL it starts an embedded PostgreSQL and a local redis-server; then it runs one
// engine instance, the bank-transfer workload and the console on one HTTP server.
import { loadConfig } from "./config";
import { startConsole, type ConsoleHandle } from "./console/startConsole";
import { createEngineStack, type EngineStack } from "./engine/createEngine";
import { errorMessage } from "./errors";
import { bootstrapInfrastructure, type Infrastructure } from "./infra/bootstrap";
import { ensureBankSchema, seedAccounts } from "./sim/bankSchema";
import { startWorkload, type Workload } from "./sim/workload";

const log = (line: string) => console.log(`[cohort] ${line}`);

async function main(): Promise<void> {
  const config = loadConfig();
  const dev = process.argv.includes("--dev");
  let infra: Infrastructure | null = null;
  let stack: EngineStack | null = null;
  let workload: Workload | null = null;
  let consoleHandle: ConsoleHandle | null = null;
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) {
      log("second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: shutting down (press Ctrl-C again to force)`);
    await workload?.stop();
    await consoleHandle?.close().catch((e) => log(`console: ${errorMessage(e)}`));
    await stack?.close();
    await infra?.stop();
    log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  log("starting infrastructure…");
  infra = await bootstrapInfrastructure(config, log);
  for (const line of infra.started) log(`started ${line}`);
  stack = createEngineStack({
    databaseUrl: infra.databaseUrl,
    redisUrl: infra.redisUrl,
    shards: infra.shards,
    options: { leaseMs: config.ENGINE_LEASE_MS, heartbeatMs: config.ENGINE_HEARTBEAT_MS, defaultTimeoutMs: config.ENGINE_TX_TIMEOUT_MS },
    log,
  });
  const { recovered, reconciled } = await stack.engine.start();
  const strays = reconciled.reduce((n, r) => n + r.committed + r.rolledBack, 0);
  log(`engine ${stack.engine.instanceId} up on ${infra.shards.length} shard(s); recovered ${recovered} transaction(s), resolved ${strays} stray prepared transaction(s)`);

  if (config.SIM_ENABLED === "1") {
    for (const shard of stack.shards) await ensureBankSchema(shard);
    await seedAccounts(stack.shards, config.SIM_ACCOUNTS);
    workload = startWorkload(stack.engine, {
      accounts: config.SIM_ACCOUNTS,
      concurrency: config.SIM_CONCURRENCY,
      rate: config.SIM_RATE,
      onError: (m) => log(`workload: ${m}`),
    });
    log(`workload: ${config.SIM_RATE || "unthrottled"} transfers/s over ${config.SIM_ACCOUNTS} accounts, concurrency ${config.SIM_CONCURRENCY}`);
  }

  consoleHandle = await startConsole({
    runtime: { config, prisma: stack.prisma, redis: stack.redis, shardNames: stack.engine.shardNames },
    host: config.HOST,
    port: config.PORT,
    dev,
    log,
  });
  log(`console ready at ${consoleHandle.url}`);
}

main().catch((err) => {
  console.error(`[cohort] failed to start: ${errorMessage(err)}`);
  process.exit(1);
});
