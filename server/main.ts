// `npm start`: the demo and the production entry point. Without DATABASE_URL / SHARD_URLS /
// REDIS_URL it starts an embedded PostgreSQL and a local redis-server; then it runs one
// engine instance, the bank-transfer workload and the console on one HTTP server.
import { ensureDemoUsers } from "./auth/demoUsers";
import { loadConfig } from "./config";
import { ensureBuild } from "./console/ensureBuild";
import { settleWithin } from "./console/settleWithin";
import { startConsole, type ConsoleHandle } from "./console/startConsole";
import { createEngineStack, type EngineStack } from "./engine/createEngine";
import { errorMessage } from "./errors";
import { bootstrapInfrastructure, type Infrastructure } from "./infra/bootstrap";
import { ensurePortFree } from "./infra/freePort";
import { removeRuntimeFile, writeRuntimeFile } from "./infra/runtimeFile";
import type { RingService } from "./ring/ringService";
import { startRing } from "./ring/startRing";
import { startOutboxRelay, outboxStream, type OutboxRelay } from "./queues/outboxRelay";
import { RabbitDepths } from "./queues/rabbit";
import { startQueueSampler, type QueueSampler } from "./queues/sampler";
import { ensureBankSchema, seedAccounts } from "./sim/bankSchema";
import { faultHooks, type FaultHooks } from "./sim/faults";
import { startTransferTotals, type TransferTotalsConsumer } from "./sim/transferTotals";
import { startWorkload, type Workload } from "./sim/workload";

const log = (line: string) => console.log(`[cohort] ${line}`);
/** Each shutdown step gets this long; the engine (its drain) and the embedded databases (a clean PostgreSQL shutdown) more. */
const STOP_STEP_MS = 3_000;
const STOP_ENGINE_MS = 6_000;
const STOP_STEP_REDIS_DOWN_MS = 500;
const STOP_DATABASES_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const dev = process.argv.includes("--dev");
  let infra: Infrastructure | null = null;
  let stack: EngineStack | null = null;
  let workload: Workload | null = null;
  let ring: RingService | null = null;
  let consoleHandle: ConsoleHandle | null = null;
  let relay: OutboxRelay | null = null;
  let sampler: QueueSampler | null = null;
  let totals: TransferTotalsConsumer | null = null;
  let faults: FaultHooks | null = null;
  let rabbit: RabbitDepths | null = null;
  let stoppingSince = 0;
  let runtimeFileWritten = false;

  /**
   * Stops whatever has started, in order: the workload first, the databases last. Every step
   * is bounded: with Redis or a database dead, a client's retries would otherwise hold the
   * exit for minutes, and what a step leaves unfinished is safe (recovery finishes it).
   */
  const stopAll = async () => {
    const step = async (what: string, work: (() => Promise<unknown>) | undefined, boundMs = STOP_STEP_MS) => {
      if (!work) return;
      // With Redis down no step that needs it can finish: waiting out the full bound in each
      // would only delay the exit (23 s with the plain bounds).
      const withinMs = stack && stack.redis.status !== "ready" ? Math.min(boundMs, STOP_STEP_REDIS_DOWN_MS) : boundMs;
      log(`stopping ${what}…`);
      const done = await settleWithin(
        work().catch((e: unknown) => log(`${what}: ${errorMessage(e)}`)),
        withinMs,
      );
      if (!done) log(`${what}: not stopped after ${withinMs / 1000} s; going on without it`);
    };
    // Tools stop finding this process at once. (Another process's file, when a start failed, stays.)
    if (runtimeFileWritten) await removeRuntimeFile(config.COHORT_DATA_DIR);
    await step("workload", workload?.stop);
    await step("rebalance executor", ring?.stop.bind(ring));
    await step("console", consoleHandle?.close);
    await step("queue sampler", sampler?.stop);
    await step("outbox consumer", totals?.stop);
    await step("outbox relay", relay?.stop);
    await step("engine", stack?.close, STOP_ENGINE_MS);
    await step("RabbitMQ connection", rabbit ? () => rabbit!.close() : undefined);
    faults?.stop();
    await step("databases", infra?.stop, STOP_DATABASES_MS);
  };
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
    await stopAll();
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

  try {
    // What needs no databases first: a taken port or a failing build then costs seconds, and
    // the build's output no longer pushes the demo users' one-time passwords off the screen.
    if (config.PORT !== 0) await ensurePortFree(config.HOST, config.PORT);
    if (!dev) await ensureBuild({ log });
    log("starting infrastructure…");
    infra = await bootstrapInfrastructure(config, log);
    for (const line of infra.started) log(`started ${line}`);
    // Every gid, Redis key and channel of this deployment carries it (README: COHORT_NAMESPACE).
    const namespace = config.COHORT_NAMESPACE;
    if (config.SIM_ENABLED === "1") {
      // The demo only: lets `npm run inject -- shard-down` fail phase two to one shard for a while.
      const { Redis } = await import("ioredis");
      const faultRedis = new Redis(infra.redisUrl, { maxRetriesPerRequest: 2 });
      faultRedis.on("error", () => undefined);
      const hooks = faultHooks(faultRedis, namespace);
      faults = { hooks: hooks.hooks, stop: () => (hooks.stop(), faultRedis.disconnect()) };
    }
    stack = createEngineStack({
      databaseUrl: infra.databaseUrl,
      redisUrl: infra.redisUrl,
      shards: infra.shards,
      options: {
        leaseMs: config.ENGINE_LEASE_MS,
        heartbeatMs: config.ENGINE_HEARTBEAT_MS,
        defaultTimeoutMs: config.ENGINE_TX_TIMEOUT_MS,
        phase2MaxDeliveries: config.COHORT_PHASE2_MAX_DELIVERIES,
        queueReclaimIdleMs: config.COHORT_QUEUE_RECLAIM_IDLE_MS,
        namespace,
      },
      ...(faults ? { hooks: faults.hooks } : {}),
      log,
    });
    const { recovered, reconciled } = await stack.engine.start();
    const strays = reconciled.reduce((n, r) => n + r.committed + r.rolledBack, 0);
    log(
      `engine ${stack.engine.instanceId} up on ${infra.shards.length} shard(s); recovered ${recovered} transaction(s), resolved ${strays} stray prepared transaction(s)`,
    );
    // Committed outbox events go to the outbox stream; this engine's commits wake the relay at once.
    relay = startOutboxRelay({ pool: stack.lazyDb.pool, redis: stack.redis, stream: outboxStream(namespace), log });
    const relayNow = relay;
    stack.engine.onOutboxWritten(() => relayNow.nudge());
    sampler = startQueueSampler({ redis: stack.redis, namespace, log });
    if (config.COHORT_RABBITMQ_URL) {
      rabbit = new RabbitDepths({
        url: config.COHORT_RABBITMQ_URL,
        queues: config.COHORT_RABBITMQ_QUEUES,
        managementUrl: config.COHORT_RABBITMQ_MANAGEMENT_URL ?? null,
      });
    }

    // No default credentials (DESIGN.md §7): a fresh database gets demo users, printed once.
    await ensureDemoUsers(stack.prisma, { password: config.COHORT_DEMO_PASSWORD, print: (text) => console.log(text) });

    // Accounts are routed by the consistent-hash ring (server/ring): its first version, the
    // live router, and the executor of a rebalance a previous process left unfinished.
    // The bank's tables first: the ring's start-up pass puts misplaced accounts where they belong.
    if (config.SIM_ENABLED === "1") for (const shard of stack.shards) await ensureBankSchema(shard);
    ring = await startRing({ prisma: stack.prisma, redis: stack.redis, engine: stack.engine, shards: stack.shards, log });

    if (config.SIM_ENABLED === "1") {
      await seedAccounts(stack.shards, config.SIM_ACCOUNTS, ring.router);
      totals = await startTransferTotals({ redis: stack.redis, namespace, consumer: `demo-${process.pid}`, log });
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
        queues: { namespace, reclaimIdleMs: config.COHORT_QUEUE_RECLAIM_IDLE_MS, rabbit },
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
    runtimeFileWritten = true;
    log(`console ready at ${consoleHandle.url}`);
  } catch (err) {
    // A signal during start-up: shutdown() is already stopping what started.
    if (stoppingSince) return;
    stoppingSince = Date.now();
    console.error(`[cohort] failed to start: ${errorMessage(err)}`);
    await stopAll();
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`[cohort] failed to start: ${errorMessage(err)}`);
  process.exit(1);
});
