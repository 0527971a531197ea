import type { Engine } from "../engine/engine";
import { CohortError } from "../errors";
import type { BranchClient } from "../participants/postgresShard";
import { shardOfAccount } from "./bankSchema";

export interface TransferResult {
  id: string;
  outcome: "committed" | "committing" | "insufficient" | "aborted";
  error?: CohortError;
}

/** The SQL of one leg; the benchmark's baseline runs exactly the same statement. */
export const LEG_SQL = `
  WITH moved AS (
    UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND balance + $2 >= 0 RETURNING id)
  INSERT INTO ledger (tx_id, account, delta) SELECT $3::uuid, id, $2 FROM moved RETURNING account`;

export async function applyLeg(client: BranchClient, txId: string, account: number, delta: number): Promise<boolean> {
  const { rowCount } = await client.query(LEG_SQL, [account, delta, txId]);
  return rowCount === 1;
}

/**
 * Moves `amount` from one account to another, each on its own shard, in one Cohort
 * transaction. Legs run in account order so two transfers over the same pair never wait
 * on each other across shards (a distributed deadlock PostgreSQL cannot see).
 */
export async function transfer(
  engine: Engine,
  from: number,
  to: number,
  amount: number,
  timeoutMs?: number,
): Promise<TransferResult> {
  const shards = engine.shardNames;
  const tx = await engine.begin({ label: "transfer", ...(timeoutMs ? { timeoutMs } : {}) });
  try {
    const legs = [
      { account: from, delta: -amount },
      { account: to, delta: amount },
    ].sort((a, b) => a.account - b.account);
    for (const leg of legs) {
      const ok = await tx.run(shardOfAccount(leg.account, shards), (c) => applyLeg(c, tx.id, leg.account, leg.delta));
      if (!ok) {
        await tx.abort(`insufficient funds in account ${from}`);
        return { id: tx.id, outcome: "insufficient" };
      }
    }
    const result = await tx.commit();
    return { id: tx.id, outcome: result.status === "COMMITTED" ? "committed" : "committing" };
  } catch (err) {
    if (err instanceof CohortError) return { id: tx.id, outcome: "aborted", error: err };
    throw err;
  }
}
