// Per-file isolation on the shared test servers: a fresh coordinator database cloned
// from the migrated template and fresh shard databases with the bank schema.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { inject } from "vitest";
import { connectDatabase, type Database, type PrismaClient } from "../db/prisma";
import { Engine, type EngineDeps } from "../engine/engine";
import { withDatabase } from "../infra/databases";
import { createTaggedDatabases } from "../infra/scratchEnvironment";
import { PostgresShard } from "../participants/postgresShard";
import { ensureBankSchema, seedAccounts } from "../sim/bankSchema";
import { initialPlacement, moduloPlacement, type AccountPlacement } from "../sim/placement";
import { TEMPLATE_DB } from "./globalSetup";

export interface TestEnv {
  serverUrl: string;
  databaseUrl: string;
  shardUrls: { name: string; url: string }[];
  redisUrl: string;
  /** This file's deployment namespace: its shards' gids, engines' queue, event and lock keys. */
  namespace: string;
  prisma: PrismaClient;
  db: Database;
  lazyDb: Database;
  redis: Redis;
  shards: PostgresShard[];
  /** Where the seeded accounts are (see createTestEnv's `placement`). */
  placement: AccountPlacement;
  shard(name: string): PostgresShard;
  /** A started engine on this environment; stopped by cleanup(). */
  engine(overrides?: Partial<Omit<EngineDeps, "prisma" | "pool" | "lazyPool" | "redis" | "shards">>): Promise<Engine>;
  /** Runs SQL as a superuser on the server (fault injection). */
  admin(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * `placement` "ring" (default) seeds accounts where the workload looks for them by default
 * (the initial ring); "modulo" puts account i on shard i mod n, for tests that address
 * accounts on shards by hand.
 */
export async function createTestEnv(
  opts: { shards?: number; accounts?: number; placement?: "ring" | "modulo" } = {},
): Promise<TestEnv> {
  const serverUrl = inject("pgServerUrl");
  const redisUrl = inject("redisUrl");
  const tag = `t${randomBytes(4).toString("hex")}`;
  const databases = await createTaggedDatabases(serverUrl, tag, opts.shards ?? 2, { template: TEMPLATE_DB });
  const { databaseUrl, shards: shardUrls } = databases;
  const db = connectDatabase(databaseUrl, { poolSize: 8 });
  const lazyDb = connectDatabase(databaseUrl, { synchronousCommit: false, poolSize: 8 });
  const prisma = db.prisma;
  const redis = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
  const shards = shardUrls.map((s) => new PostgresShard({ ...s, namespace: tag, poolSize: 16 }));
  for (const s of shards) await ensureBankSchema(s);
  const names = shards.map((s) => s.name);
  const placement = opts.placement === "modulo" ? moduloPlacement(names) : await initialPlacement(names);
  await seedAccounts(shards, opts.accounts ?? 100, placement);
  const engines: Engine[] = [];
  return {
    serverUrl,
    databaseUrl,
    shardUrls,
    redisUrl,
    namespace: tag,
    prisma,
    db,
    lazyDb,
    redis,
    shards,
    placement,
    shard: (name) => {
      const s = shards.find((x) => x.name === name);
      if (!s) throw new Error(`no shard ${name}`);
      return s;
    },
    engine: async (overrides = {}) => {
      const engine = new Engine({
        prisma,
        pool: db.pool,
        lazyPool: lazyDb.pool,
        redis,
        shards,
        ...overrides,
        options: { leaseMs: 1_000, heartbeatMs: 200, namespace: tag, ...overrides.options },
      });
      engines.push(engine);
      await engine.start();
      return engine;
    },
    admin: async (sql) => {
      const c = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    },
    cleanup: async () => {
      for (const e of engines) await e.stop({ drainMs: 1_000 }).catch(() => undefined);
      for (const s of shards) {
        const left = await s.listPrepared().catch(() => []);
        for (const p of left) await s.resolveGid(p.gid, false).catch(() => undefined);
      }
      await Promise.all(shards.map((s) => s.close()));
      await db.close();
      await lazyDb.close();
      const queueKeys = await redis.keys(`${tag}:q:*`).catch(() => []);
      // The namespace's events stream and deployment claim (server/engine/deploymentGuard.ts) too.
      await redis.del(...queueKeys, `${tag}:events`, `${tag}:deployment`).catch(() => undefined);
      redis.disconnect();
      await databases.drop();
    },
  };
}
