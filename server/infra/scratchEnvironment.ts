// Fresh, throw-away databases for chaos runs and benchmarks: on the PostgreSQL/Redis in
// the config when given, else on an embedded PostgreSQL and a redis-server started here.
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { Config } from "../config";
import { ensureDatabase, migrateCoordinatorDatabase, withDatabase } from "./databases";
import { defaultShardNames, type ShardEndpoint } from "./bootstrap";
import { startEmbeddedPostgres } from "./embeddedPostgres";
import { startLocalRedis } from "./localRedis";

export interface ScratchEnvironment {
  databaseUrl: string;
  redisUrl: string;
  shards: ShardEndpoint[];
  stop(): Promise<void>;
}

export async function createScratchEnvironment(
  config: Config,
  opts: { purpose: string; shards: number },
): Promise<ScratchEnvironment> {
  const stops: (() => Promise<void>)[] = [];
  let serverUrl = config.DATABASE_URL;
  if (!serverUrl) {
    const handle = await startEmbeddedPostgres({
      dataDir: path.join(os.tmpdir(), `cohort-${opts.purpose}-${process.pid}`),
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
  const tag = `${opts.purpose}_${randomBytes(3).toString("hex")}`;
  const dbs = [`${tag}_cohort`, ...defaultShardNames(opts.shards).map((n) => `${tag}_${n.replace("-", "_")}`)];
  for (const db of dbs) await ensureDatabase(serverUrl, db);
  const databaseUrl = withDatabase(serverUrl, dbs[0]!);
  await migrateCoordinatorDatabase(databaseUrl);
  const shards = defaultShardNames(opts.shards).map((name, i) => ({ name, url: withDatabase(serverUrl, dbs[i + 1]!) }));
  const admin = serverUrl;
  return {
    databaseUrl,
    redisUrl,
    shards,
    stop: async () => {
      if (stops.length === 0 || config.DATABASE_URL) {
        // On a shared server, drop what we created (prepared leftovers would block DROP).
        const c = new pg.Client({ connectionString: withDatabase(admin, "postgres") });
        await c.connect();
        for (const db of dbs) await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
        await c.end();
      }
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    },
  };
}
