// Integration tests run against real PostgreSQL and Redis: the ones in DATABASE_URL and
// REDIS_URL when set, otherwise a throw-away embedded PostgreSQL and a local redis-server.
import pg from "pg";
import type { TestProject } from "vitest/node";
import { loadConfig } from "../config";
import { ensureDatabase, migrateCoordinatorDatabase, withDatabase } from "../infra/databases";
import { startScratchServers } from "../infra/scratchEnvironment";

export const TEMPLATE_DB = "cohort_test_template";

declare module "vitest" {
  export interface ProvidedContext {
    pgServerUrl: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await startScratchServers(loadConfig(), "test-pg");
  try {
    const { serverUrl, redisUrl } = servers;
    await assertPreparedTransactionsEnabled(serverUrl);
    // One migrated template; each test file clones it (CREATE DATABASE … TEMPLATE is fast).
    const admin = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await admin.end();
    await ensureDatabase(serverUrl, TEMPLATE_DB);
    await migrateCoordinatorDatabase(withDatabase(serverUrl, TEMPLATE_DB));
    project.provide("pgServerUrl", serverUrl);
    project.provide("redisUrl", redisUrl);
  } catch (err) {
    await servers.stop();
    throw err;
  }
  return servers.stop;
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
