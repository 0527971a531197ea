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
}

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function connectDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const options = opts.synchronousCommit === false ? "-c synchronous_commit=off" : undefined;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? "cohort",
    ...(options ? { options } : {}),
  });
  pool.on("error", () => undefined); // an idle connection dropped by the server is replaced
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
