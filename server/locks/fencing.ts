// Fencing on the shard (Kleppmann, "How to do distributed locking"). A lease alone cannot
// stop a holder that paused (GC, swap, a stalled network) past its expiry from writing
// after someone else took the lock. So each row carries the highest fencing token that
// touched it (`fence bigint NOT NULL DEFAULT 0` on the sim's accounts), and a write is
// refused when its token is older.
//
// Two statements make the pattern:
//   claim  UPDATE … SET fence = $token WHERE key AND fence <= $token RETURNING <what you read>
//   write  UPDATE … SET <changes>, fence = $token WHERE key AND fence <= $token
// Read through the claim, not a plain SELECT. Once a newer holder has claimed the row, an
// older holder's write fails even if the newer one has not written yet, so a value read
// under a lease that is no longer valid can never be written back. With a plain read,
// the two holders could both read v and the newer write v+1 after the older one: a lost
// update that the token order alone would let through.
//
// This is also what keeps writes safe when Redis loses its data (restart without
// persistence, failover to a replica that missed writes): two clients may then both
// believe they hold a lock, but a token is epoch · 10^9 + a counter in Redis, and a Redis
// without its epoch takes a new one from a PostgreSQL sequence (fencingEpoch.ts), so the
// new grant's token is above the old one's, whatever Redis's clock says, and the shard
// accepts only one line of writes per row. Mutual exclusion in Redis is the fast path;
// the fence is the guarantee.
import type pg from "pg";
import { CohortError } from "../errors";

export const FENCE_COLUMN = "fence";

export interface FencedStatement {
  /** Table name (a plain identifier). */
  table: string;
  /** The row's key column; the statement takes the key as $1 and the token as $2. */
  keyColumn: string;
  /** Further assignments, e.g. "balance = $3". Omit for a claim. */
  set?: string;
  /** e.g. "balance" for a claim that reads. */
  returning?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * An UPDATE that applies only when `$2` (the fencing token) is at least the row's fence,
 * and raises the fence to it. It touches no row when the token is stale (or the row does
 * not exist): check the row count, or use `runFenced`.
 */
export function fencedUpdateSql(s: FencedStatement): string {
  if (!IDENTIFIER.test(s.table) || !IDENTIFIER.test(s.keyColumn))
    throw new Error("fencedUpdateSql: table and key column must be plain identifiers");
  const set = s.set ? `${s.set}, ` : "";
  const returning = s.returning ? ` RETURNING ${s.returning}` : "";
  return `UPDATE ${s.table} SET ${set}${FENCE_COLUMN} = $2::bigint WHERE ${s.keyColumn} = $1 AND ${FENCE_COLUMN} <= $2::bigint${returning}`;
}

/** The claim: raises the fence without changing data and returns what the caller reads. */
export function fencedClaimSql(s: Omit<FencedStatement, "set"> & { returning: string }): string {
  return fencedUpdateSql(s);
}

/** Both statements for the sim's accounts table. */
export const accountFencing = {
  /** $1 account, $2 token → balance. */
  claim: fencedClaimSql({ table: "accounts", keyColumn: "id", returning: "balance" }),
  /** $1 account, $2 token, $3 new balance. */
  setBalance: fencedUpdateSql({ table: "accounts", keyColumn: "id", set: "balance = $3::bigint" }),
} as const;

/** A pg client, pool, or PostgresShard. */
interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * Runs a fenced statement; STALE_TOKEN when the row refused it (a newer token touched the
 * row, so this holder's lease is over) or the row is missing.
 */
export async function runFenced<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  sql: string,
  params: [key: unknown, token: string, ...rest: unknown[]],
): Promise<pg.QueryResult<R>> {
  const result = await db.query<R>(sql, params);
  if (result.rowCount === 0) {
    throw new CohortError(
      "STALE_TOKEN",
      `write refused: fencing token ${params[1]} is older than the row's fence (or the row does not exist)`,
      {
        details: { key: params[0], token: params[1] },
      },
    );
  }
  return result;
}

/** Orders two fencing tokens (decimal strings beyond 2^53). */
export function compareTokens(a: string, b: string): -1 | 0 | 1 {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
