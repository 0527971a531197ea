// Integration tests run against real PostgreSQL and Redis: the ones in DATABASE_URL and
// REDIS_URL when set, otherwise a throw-away embedded PostgreSQL and a local redis-server.
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { loadConfig } from "../config";
import { ensureDatabase, migrateCoordinatorDatabase, withDatabase } from "../infra/databases";
import { startEmbeddedPostgres } from "../infra/embeddedPostgres";
import { startLocalRedis } from "../infra/localRedis";

export const TEMPLATE_DB = "cohort_test_template";

declare module "vitest" {
  export interface ProvidedContext {
    pgServerUrl: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig();
  const stops: (() => Promise<void>)[] = [];
  let serverUrl: string;
  if (config.DATABASE_URL) {
    serverUrl = config.DATABASE_URL;
  } else {
    const pgHandle = await startEmbeddedPostgres({
      dataDir: path.join(os.tmpdir(), `cohort-test-pg-${process.pid}`),
      persistent: false,
    });
    stops.push(pgHandle.stop);
    serverUrl = withDatabase(pgHandle.baseUrl, "postgres");
  }
  await assertPreparedTransactionsEnabled(serverUrl);
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const redis = await startLocalRedis();
    stops.push(redis.stop);
    redisUrl = redis.url;
  }
  // One migrated template; each test file clones it (CREATE DATABASE … TEMPLATE is fast).
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await admin.end();
  await ensureDatabase(serverUrl, TEMPLATE_DB);
  await migrateCoordinatorDatabase(withDatabase(serverUrl, TEMPLATE_DB));
  project.provide("pgServerUrl", serverUrl);
  project.provide("redisUrl", redisUrl);
  return async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
}

async function assertPreparedTransactionsEnabled(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    const { rows } = await client.query<{ max_prepared_transactions: string }>("SHOW max_prepared_transactions");
    if (Number(rows[0]?.max_prepared_transactions ?? 0) < 50) {
      throw new Error(
        `max_prepared_transactions is ${rows[0]?.max_prepared_transactions} on the test server; raise it (e.g. 200) or unset DATABASE_URL to use the embedded PostgreSQL`,
      );
    }
  } finally {
    await client.end();
  }
}
