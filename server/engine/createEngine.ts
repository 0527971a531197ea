// Wires an Engine to real clients from URLs: used by the demo, the chaos runner's
// workers and the benchmarks, so they all run the same stack.
import { Redis } from "ioredis";
import { connectDatabase, type Database, type PrismaClient } from "../db/prisma";
import os from "node:os";
import { pgFencingEpochSource } from "../locks/fencingEpoch";
import { LockService } from "../locks/lockService";
import { PostgresShard } from "../participants/postgresShard";
import { Engine } from "./engine";
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
  const prisma = db.prisma;
  // Auto-pipelining batches the many small XADDs of concurrent transactions into few writes.
  const redis = new Redis(opts.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 3 });
  redis.on("error", () => undefined); // reconnects by itself; events are best-effort
  const shards = opts.shards.map((s) => new PostgresShard({ ...s, poolSize: opts.poolSize ?? 20 }));
  const locks = new LockService({
    redis,
    host: `${os.hostname()}:${process.pid}`,
    epochSource: pgFencingEpochSource(db.pool),
  });
  const engine = new Engine({
    locks,
    prisma,
    pool: db.pool,
    lazyPool: lazyDb.pool,
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
      await Promise.all([db.close(), lazyDb.close()]);
      redis.disconnect();
    },
  };
}
