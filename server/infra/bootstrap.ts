// Resolves where the coordinator log, the shards and Redis live. With URLs in the
// config they are used as given; without, a local PostgreSQL and redis-server are
// started so that `npm start` works on a fresh machine.
import path from "node:path";
import type { Config } from "../config";
import { claimDataDir, type DataDirClaim } from "./dataDirOwner";
import { ensureDatabase, migrateCoordinatorDatabase, withDatabase } from "./databases";
import { startEmbeddedPostgres } from "./embeddedPostgres";
import { startLocalRedis } from "./localRedis";

export interface ShardEndpoint {
  name: string;
  url: string;
}

export interface Infrastructure {
  databaseUrl: string;
  redisUrl: string;
  shards: ShardEndpoint[];
  /** What was started locally, for the startup banner. */
  started: string[];
  stop(): Promise<void>;
}

export function defaultShardNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `shard-${String.fromCharCode(97 + i)}`);
}

export async function bootstrapInfrastructure(config: Config, log: (line: string) => void): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  const started: string[] = [];
  let claim: DataDirClaim | null = null;
  try {
    let databaseUrl = config.DATABASE_URL;
    let shards = config.SHARD_URLS;
    let redisUrl = config.REDIS_URL;
    if (!databaseUrl || !shards || !redisUrl) {
      claim = await claimDataDir(config.COHORT_DATA_DIR);
      stops.push(claim.release);
    }
    if (!databaseUrl || !shards) {
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(config.COHORT_DATA_DIR, "pg"),
        persistent: true,
        // Only the server's own trouble: a statement's ERROR reaches its client, which handles
        // it (a phase-2 retry finding its branch already committed is one).
        log: (text) => {
          for (const line of text.split("\n")) if (/\b(FATAL|PANIC):/.test(line)) log(`[postgres] ${line}`);
        },
      });
      stops.push(pg.stop);
      started.push(`embedded PostgreSQL at ${new URL(pg.baseUrl).host}`);
      if (!databaseUrl) {
        await ensureDatabase(pg.baseUrl, "cohort");
        databaseUrl = withDatabase(pg.baseUrl, "cohort");
      }
      if (!shards) {
        shards = [];
        for (const name of defaultShardNames(config.COHORT_SHARDS)) {
          const db = name.replace("-", "_");
          await ensureDatabase(pg.baseUrl, db);
          shards.push({ name, url: withDatabase(pg.baseUrl, db) });
        }
      }
    }
    if (!redisUrl) {
      const redis = await startLocalRedis();
      stops.push(redis.stop);
      await claim?.recordRedis(redis.pid);
      started.push(`redis-server at ${new URL(redis.url).host}`);
      redisUrl = redis.url;
    }
    await migrateCoordinatorDatabase(databaseUrl);
    return {
      databaseUrl,
      redisUrl,
      shards,
      started,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}
