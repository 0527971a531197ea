// Fresh, throw-away databases for chaos runs, benchmarks and tests: on the PostgreSQL/Redis
// in the config when given, else on an embedded PostgreSQL and a redis-server started here.
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { Config } from "../config";
import { defaultShardNames, type ShardEndpoint } from "./bootstrap";
import { ensureDatabase, migrateCoordinatorDatabase, withDatabase } from "./databases";
import { startEmbeddedPostgres } from "./embeddedPostgres";
import { startLocalRedis } from "./localRedis";

export interface ScratchServers {
  /** A superuser URL of the PostgreSQL server; put a database name in it with withDatabase. */
  serverUrl: string;
  redisUrl: string;
  /** True when the server is the config's: what is created there must be dropped again. */
  sharedPostgres: boolean;
  stop(): Promise<void>;
}

/** The config's PostgreSQL server and Redis, or an embedded PostgreSQL and a redis-server of our own. */
export async function startScratchServers(config: Config, purpose: string): Promise<ScratchServers> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    let serverUrl = config.DATABASE_URL;
    if (!serverUrl) {
      const handle = await startEmbeddedPostgres({
        dataDir: path.join(os.tmpdir(), `cohort-${purpose}-${process.pid}`),
        persistent: false,
      });
      stops.push(handle.stop);
      serverUrl = withDatabase(handle.baseUrl, "postgres");
    }
    let redisUrl = config.REDIS_URL;
    if (!redisUrl) {
      const redis = await startLocalRedis();
      stops.push(redis.stop);
      redisUrl = redis.url;
    }
    return { serverUrl, redisUrl, sharedPostgres: Boolean(config.DATABASE_URL), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface TaggedDatabases {
  databaseUrl: string;
  shards: ShardEndpoint[];
  /** Drops them all; prepared transactions left in them do not block it. */
  drop(): Promise<void>;
}

/**
 * A coordinator database `<tag>_cohort` (empty, or a copy of `template`) and shard databases
 * `<tag>_shard_a`, `<tag>_shard_b`, … for shards named shard-a, shard-b, …
 */
export async function createTaggedDatabases(
  serverUrl: string,
  tag: string,
  shardCount: number,
  opts: { template?: string } = {},
): Promise<TaggedDatabases> {
  const coordinator = `${tag}_cohort`;
  const shards = defaultShardNames(shardCount).map((name) => ({ name, db: `${tag}_${name.replace("-", "_")}` }));
  await ensureDatabase(serverUrl, coordinator, opts.template);
  for (const s of shards) await ensureDatabase(serverUrl, s.db);
  return {
    databaseUrl: withDatabase(serverUrl, coordinator),
    shards: shards.map((s) => ({ name: s.name, url: withDatabase(serverUrl, s.db) })),
    drop: async () => {
      const c = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
      await c.connect();
      try {
        for (const db of [coordinator, ...shards.map((s) => s.db)]) {
          await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
        }
      } finally {
        await c.end();
      }
    },
  };
}

export interface ScratchEnvironment {
  databaseUrl: string;
  redisUrl: string;
  shards: ShardEndpoint[];
  stop(): Promise<void>;
}

/** Servers, a migrated coordinator database and `shards` empty shard databases, all gone again after stop(). */
export async function createScratchEnvironment(
  config: Config,
  opts: { purpose: string; shards: number },
): Promise<ScratchEnvironment> {
  const servers = await startScratchServers(config, opts.purpose);
  try {
    const tag = `${opts.purpose}_${randomBytes(3).toString("hex")}`;
    const dbs = await createTaggedDatabases(servers.serverUrl, tag, opts.shards);
    await migrateCoordinatorDatabase(dbs.databaseUrl);
    return {
      databaseUrl: dbs.databaseUrl,
      redisUrl: servers.redisUrl,
      shards: dbs.shards,
      stop: async () => {
        // An embedded server goes with its data; on a shared one, drop what we created.
        if (servers.sharedPostgres) await dbs.drop().catch(() => undefined);
        await servers.stop();
      },
    };
  } catch (err) {
    await servers.stop();
    throw err;
  }
}
