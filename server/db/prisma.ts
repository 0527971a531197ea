// The one place the coordinator database is connected. Prisma 6.19 runs here with the
// pg driver adapter and the query compiler, so no native engine is needed (DESIGN.md §9).
// Prisma and the engine's raw writes share one pg pool per Database.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@prisma/client";
import pg from "pg";

export type { PrismaClient };

export interface DatabaseOptions {
  /**
   * false: commits return before the WAL is flushed. Used for log writes that presumed
   * abort allows to be lost (begin, votes, end); the COMMIT decision always goes through
   * a pool with synchronous commit on, and flushing it flushes every earlier record too,
   * since the WAL is sequential.
   */
  synchronousCommit?: boolean;
  poolSize?: number;
  applicationName?: string;
  /**
   * Bounds on every wait, so a database that stops answering (a partition black-holes
   * packets: no error ever arrives) fails the call instead of hanging it: connecting, a
   * statement on the server (statement_timeout), and the whole round trip on the client
   * (query_timeout, which also covers a network that swallowed the reply).
   */
  timeouts?: { connectMs: number; statementMs: number; queryMs: number };
}

/** Defaults for pools whose callers have no tighter bound of their own. */
export const DEFAULT_DB_TIMEOUTS = { connectMs: 5_000, statementMs: 15_000, queryMs: 20_000 };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** A pg pool with the timeouts above; `connectDatabase` adds Prisma on top of one. */
export function connectPool(url: string, opts: DatabaseOptions = {}): pg.Pool {
  const options = opts.synchronousCommit === false ? "-c synchronous_commit=off" : undefined;
  const timeouts = opts.timeouts ?? DEFAULT_DB_TIMEOUTS;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? "cohort",
    connectionTimeoutMillis: timeouts.connectMs,
    statement_timeout: timeouts.statementMs,
    query_timeout: timeouts.queryMs,
    keepAlive: true,
    ...(options ? { options } : {}),
  });
  pool.on("error", () => undefined); // an idle connection dropped by the server is replaced
  return pool;
}

export function connectDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const pool = connectPool(url, opts);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    close: async () => {
      await prisma.$disconnect();
      await pool.end().catch(() => undefined);
    },
  };
}

export function createPrisma(url: string, opts: DatabaseOptions = {}): PrismaClient {
  return connectDatabase(url, opts).prisma;
}
