// Wires an Engine to real clients from URLs: used by the demo, the chaos runner's
// workers and the benchmarks, so they all run the same stack.
import { Redis } from "ioredis";
import { connectDatabase, connectPool, type Database, type PrismaClient } from "../db/prisma";
import { processHost } from "../locks/deadHolders";
import { pgFencingEpochSource } from "../locks/fencingEpoch";
import { LockService } from "../locks/lockService";
import { PostgresShard } from "../participants/postgresShard";
import { defaultEngineOptions, Engine } from "./engine";
import type { EngineHooks, EngineOptions } from "./types";

export interface EngineStack {
  engine: Engine;
  prisma: PrismaClient;
  db: Database;
  lazyDb: Database;
  redis: Redis;
  shards: PostgresShard[];
  locks: LockService;
  close(): Promise<void>;
}

export function createEngineStack(opts: {
  databaseUrl: string;
  redisUrl: string;
  shards: { name: string; url: string }[];
  options?: Partial<EngineOptions>;
  hooks?: EngineHooks;
  poolSize?: number;
  log?: (line: string) => void;
}): EngineStack {
  const db = connectDatabase(opts.databaseUrl, { poolSize: 20, applicationName: "cohort-engine" });
  const lazyDb = connectDatabase(opts.databaseUrl, {
    synchronousCommit: false,
    poolSize: 20,
    applicationName: "cohort-engine-lazy",
  });
  // The lease's own connection: heartbeats never queue behind other work, and give up well
  // within the lease so that the next one is tried in time.
  const beat = Math.max(100, Math.floor((opts.options?.leaseMs ?? defaultEngineOptions.leaseMs) / 3));
  const heartbeatPool = connectPool(opts.databaseUrl, {
    poolSize: 1,
    applicationName: "cohort-engine-heartbeat",
    timeouts: { connectMs: beat, statementMs: beat, queryMs: beat },
  });
  const prisma = db.prisma;
  // Auto-pipelining batches the many small XADDs of concurrent transactions into few writes.
  // A Redis that black-holes packets never errors: commandTimeout fails the call instead of
  // hanging a commit on its phase-2 enqueue or a lock (blocking reads wait 1 s, well below it).
  const redis = new Redis(opts.redisUrl, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 3,
    commandTimeout: 5_000,
    connectTimeout: 5_000,
  });
  redis.on("error", () => undefined); // reconnects by itself; events are best-effort
  // Shards, locks and engine share one namespace (the engine refuses a mix).
  const namespace = opts.options?.namespace ?? defaultEngineOptions.namespace;
  const shards = opts.shards.map((s) => new PostgresShard({ ...s, namespace, poolSize: opts.poolSize ?? 20 }));
  // The engine's host and pid (engine_instances) in every grant: when this instance dies, its
  // peers find its locks by them (server/engine/deadInstanceLocks.ts).
  const locks = new LockService({
    redis,
    host: processHost(opts.options?.host ?? defaultEngineOptions.host, opts.options?.pid ?? defaultEngineOptions.pid),
    namespace,
    epochSource: pgFencingEpochSource(db.pool),
  });
  const engine = new Engine({
    locks,
    prisma,
    pool: db.pool,
    lazyPool: lazyDb.pool,
    heartbeatPool,
    redis,
    shards,
    ...(opts.options ? { options: opts.options } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  return {
    engine,
    prisma,
    db,
    lazyDb,
    redis,
    shards,
    locks,
    close: async () => {
      await engine.stop().catch(() => undefined);
      await locks.close().catch(() => undefined);
      await Promise.all(shards.map((s) => s.close().catch(() => undefined)));
      await Promise.all([db.close(), lazyDb.close(), heartbeatPool.end().catch(() => undefined)]);
      redis.disconnect();
    },
  };
}
