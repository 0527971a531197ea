// The checks a chaos run ends with: money is conserved, every transaction is finished,
// every shard agrees with the logged outcome, and no Cohort prepared transaction is left.
import type { PrismaClient } from "../db/prisma";
import type { PostgresShard } from "../participants/postgresShard";
import { totalBalance } from "./bankSchema";

export interface InvariantReport {
  transactions: number;
  /** Transactions whose shards disagree with the log, plus 1 if money was created or lost. */
  violations: number;
  unresolved: number;
  orphans: number;
  details: string[];
}

export async function checkInvariants(
  prisma: PrismaClient,
  shards: PostgresShard[],
  expectedTotal: number,
  /** No relay ran, so the outbox table must hold exactly one event per committed transfer and none of any other. */
  opts: { outboxUnrelayed?: boolean } = {},
): Promise<InvariantReport> {
  const details: string[] = [];
  const { total } = await totalBalance(shards);
  let violations = 0;
  if (total !== expectedTotal) {
    violations++;
    details.push(`total balance ${total}, expected ${expectedTotal}`);
  }
  const unresolved = await prisma.transaction.count({ where: { status: { notIn: ["COMMITTED", "ABORTED"] } } });
  if (unresolved) details.push(`${unresolved} transaction(s) not terminal`);
  // status, outcome and ended_at must tell the same story (queries rely on each of them).
  const [mismatch] = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM transactions
    WHERE (ended_at IS NULL) <> (status NOT IN ('COMMITTED', 'ABORTED'))
       OR (ended_at IS NOT NULL AND outcome IS DISTINCT FROM status)`;
  if (mismatch && mismatch.n > 0n) {
    violations += Number(mismatch.n);
    details.push(`${mismatch.n} transaction(s) whose status, outcome and ended_at disagree`);
  }

  // Ledger rows written per transaction across all shards (one per leg).
  const legs = new Map<string, number>();
  for (const shard of shards) {
    const { rows } = await shard.query<{ tx_id: string; n: string }>(
      "SELECT tx_id::text, count(*) AS n FROM ledger GROUP BY tx_id",
    );
    for (const r of rows) legs.set(r.tx_id, (legs.get(r.tx_id) ?? 0) + Number(r.n));
  }
  const txs = await prisma.transaction.findMany({
    where: { label: "transfer" },
    select: { id: true, status: true, branches: { select: { status: true } } },
  });
  const events = new Map<string, number>();
  if (opts.outboxUnrelayed) {
    const rows = await prisma.$queryRaw<{ tx_id: string; n: bigint }[]>`
      SELECT tx_id::text, count(*) AS n FROM outbox GROUP BY tx_id`;
    for (const r of rows) events.set(r.tx_id, Number(r.n));
  }
  for (const tx of txs) {
    if (opts.outboxUnrelayed) {
      const published = events.get(tx.id) ?? 0;
      const want = tx.status === "COMMITTED" ? 1 : tx.status === "ABORTED" ? 0 : published;
      if (published !== want) {
        violations++;
        if (details.length < 20) details.push(`${tx.id}: ${tx.status} with ${published} outbox event(s), expected ${want}`);
      }
    }
    const written = legs.get(tx.id) ?? 0;
    legs.delete(tx.id);
    const branchStates = tx.branches.map((b) => b.status);
    let bad: string | null = null;
    if (tx.status === "COMMITTED") {
      if (written !== 2) bad = `COMMITTED but ${written} of 2 legs on the shards`;
      else if (branchStates.some((s) => s !== "COMMITTED")) bad = `COMMITTED with branches ${branchStates.join(",")}`;
    } else if (tx.status === "ABORTED") {
      if (written !== 0) bad = `ABORTED but ${written} leg(s) on the shards`;
      else if (branchStates.some((s) => s !== "ABORTED" && s !== "FAILED"))
        bad = `ABORTED with branches ${branchStates.join(",")}`;
    }
    if (bad) {
      violations++;
      if (details.length < 20) details.push(`${tx.id}: ${bad}`);
    }
  }
  // Ledger rows of transactions the log never heard of: work committed outside the protocol.
  for (const [id, n] of legs) {
    violations++;
    if (details.length < 20) details.push(`${id}: ${n} leg(s) on the shards but no transaction in the log`);
  }
  const orphans = (await Promise.all(shards.map((s) => s.listPrepared()))).flat().length;
  if (orphans) details.push(`${orphans} Cohort prepared transaction(s) left on the shards`);
  return { transactions: txs.length, violations, unresolved, orphans, details };
}
