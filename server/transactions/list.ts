// The transaction list: keyset pagination over (started_at, id), never OFFSET, so page
// 1000 costs what page 1 costs. Each filter is written so one of the coordinator log's
// indexes serves it (checked with EXPLAIN on a million rows, see list.integration.test.ts):
//   no filter, age, id prefix  → transactions_started_at_id_idx, or the primary key for a
//                                narrow id prefix (the planner picks by selectivity)
//   COMMITTED / ABORTED        → transactions_outcome_started_at_id_idx; `status` is in no
//                                index on purpose (HOT updates), `outcome` is
//   ACTIVE … ABORTING, open    → the partial indexes WHERE ended_at IS NULL, then status
//   label                      → transactions_label_started_at_id_idx
//   shard                      → EXISTS probe on the branches primary key per candidate row
import { Prisma } from "@prisma/client";
import type { PrismaClient } from "../db/prisma";
import { encodeCursor } from "./cursor";
import type { ListQuery } from "./filters";
import { isOpenState } from "./listParams";
import type { Decision, TxListItem, TxListPage, TxStatus } from "./types";

interface Row {
  id: string;
  label: string;
  status: TxStatus;
  decision: Decision | null;
  started_at: Date;
  decided_at: Date | null;
  ended_at: Date | null;
  updated_at: Date;
  shards: string[];
}

export async function listTransactions(prisma: PrismaClient, query: ListQuery): Promise<TxListPage> {
  const newestFirst = query.sort === "newest";
  const conditions = whereConditions(query);
  const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, " AND ")}` : Prisma.empty;
  const order = newestFirst ? Prisma.sql`t.started_at DESC, t.id DESC` : Prisma.sql`t.started_at ASC, t.id ASC`;
  // One row more than asked says whether another page exists without a count(*).
  const rows = await prisma.$queryRaw<Row[]>`
    SELECT t.id::text AS id, t.label, t.status::text AS status, t.decision::text AS decision,
           t.started_at, t.decided_at, t.ended_at, t.updated_at,
           ARRAY(SELECT b.shard FROM branches b WHERE b.tx_id = t.id ORDER BY b.shard) AS shards
      FROM transactions t
      ${where}
     ORDER BY ${order}
     LIMIT ${query.limit + 1}`;
  const items = rows.slice(0, query.limit).map(toItem);
  return { items, nextCursor: rows.length > query.limit ? items.at(-1)!.cursor : null };
}

function whereConditions(query: ListQuery): Prisma.Sql[] {
  const conditions: Prisma.Sql[] = [];
  const { state } = query;
  if (state === "OPEN") {
    conditions.push(Prisma.sql`t.ended_at IS NULL`);
  } else if (state && isOpenState(state)) {
    // The predicate repeats the partial indexes' own so the planner may use them.
    conditions.push(Prisma.sql`t.ended_at IS NULL AND t.status = ${state}::"TxStatus"`);
  } else if (state) {
    conditions.push(Prisma.sql`t.outcome = ${state}::"TxStatus"`);
  }
  if (query.label) conditions.push(Prisma.sql`t.label = ${query.label}`);
  if (query.shard) {
    conditions.push(Prisma.sql`EXISTS (SELECT 1 FROM branches b WHERE b.tx_id = t.id AND b.shard = ${query.shard})`);
  }
  if (query.olderThan) {
    conditions.push(Prisma.sql`t.started_at < now() - make_interval(secs => ${query.olderThan})`);
  }
  if (query.idPrefix) {
    // A prefix is a range of the uuid order, which both btrees on id can scan.
    const [low, high] = idPrefixRange(query.idPrefix);
    conditions.push(Prisma.sql`t.id BETWEEN ${low}::uuid AND ${high}::uuid`);
  }
  if (query.cursor) {
    // Row comparison: PostgreSQL turns it into one index bound on (started_at, id).
    const at = new Date(query.cursor.t);
    conditions.push(
      query.sort === "newest"
        ? Prisma.sql`(t.started_at, t.id) < (${at}::timestamptz, ${query.cursor.id}::uuid)`
        : Prisma.sql`(t.started_at, t.id) > (${at}::timestamptz, ${query.cursor.id}::uuid)`,
    );
  }
  return conditions;
}

/** The lowest and highest uuid starting with `prefix` (1–32 lowercase hex digits). */
export function idPrefixRange(prefix: string): [string, string] {
  const format = (hex: string) =>
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return [format(prefix.padEnd(32, "0")), format(prefix.padEnd(32, "f"))];
}

function toItem(row: Row): TxListItem {
  return {
    id: row.id,
    label: row.label,
    status: row.status,
    decision: row.decision,
    startedAt: row.started_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
    endedAt: row.ended_at?.toISOString() ?? null,
    updatedAt: row.updated_at.toISOString(),
    shards: row.shards,
    cursor: encodeCursor({ startedAt: row.started_at, id: row.id }),
  };
}
