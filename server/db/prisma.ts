// The one place a Prisma client is built. Prisma 6.19 runs here with the pg driver
// adapter and the query compiler, so no native engine is needed (DESIGN.md §9).
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@prisma/client";

export type { PrismaClient };

export interface PrismaOptions {
  /**
   * false: commits return before the WAL is flushed. Used for log writes that
   * presumed abort allows to be lost (begin, votes, end); the COMMIT decision always
   * goes through a client with synchronous commit on, and flushing it flushes every
   * earlier record too, since the WAL is sequential.
   */
  synchronousCommit?: boolean;
  poolSize?: number;
  applicationName?: string;
}

export function createPrisma(url: string, opts: PrismaOptions = {}): PrismaClient {
  const options = [`-c application_name=${opts.applicationName ?? "cohort"}`];
  if (opts.synchronousCommit === false) options.push("-c synchronous_commit=off");
  const adapter = new PrismaPg({ connectionString: url, max: opts.poolSize ?? 10, options: options.join(" ") });
  return new PrismaClient({ adapter });
}
