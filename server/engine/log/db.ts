// Where a statement of the log runs: a pg pool (the engine's writes, named and prepared once
// per connection) or a Prisma client, plain or inside an interactive transaction (the
// console's, e.g. an operator's decision that commits together with its audit record).
import type { Prisma } from "@prisma/client";
import type pg from "pg";
import { execute as executeOnPool, queryRows as queryRowsOnPool, type SqlQuery } from "../../db/sql";

export type LogDb = pg.Pool | Prisma.TransactionClient;

const isPrisma = (db: LogDb): db is Prisma.TransactionClient => "$executeRawUnsafe" in db;

/** Runs a statement and returns the number of rows it affected. */
export function execute(db: LogDb, query: SqlQuery): Promise<number> {
  return isPrisma(db) ? db.$executeRawUnsafe(query.text, ...query.values) : executeOnPool(db, query);
}

/** A jsonb parameter: undefined is stored as JSON null. */
export const jsonParam = (v: unknown): string => JSON.stringify(v ?? null);

export function queryRows<R extends pg.QueryResultRow>(db: LogDb, query: SqlQuery): Promise<R[]> {
  return isPrisma(db) ? db.$queryRawUnsafe<R[]>(query.text, ...query.values) : queryRowsOnPool<R>(db, query);
}
