// The bank used by the demo, the tests, chaos runs and benchmarks: accounts spread over
// the shards, and a ledger row per branch so that every transaction's effect on every
// shard can be checked against its logged outcome.
import type { PostgresShard } from "../participants/postgresShard";

export const INITIAL_BALANCE = 1_000;

export async function ensureBankSchema(shard: PostgresShard): Promise<void> {
  await shard.query(`
    CREATE TABLE IF NOT EXISTS accounts (
      id bigint PRIMARY KEY,
      balance bigint NOT NULL CHECK (balance >= 0),
      fence bigint NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS ledger (
      tx_id uuid NOT NULL,
      account bigint NOT NULL,
      delta bigint NOT NULL,
      PRIMARY KEY (tx_id, account)
    );`);
}

/** Which shard holds an account. The consistent-hash ring replaces this in the ring issue. */
export function shardOfAccount(account: number, shardNames: string[]): string {
  return shardNames[account % shardNames.length]!;
}

/** Creates accounts 0..count-1 with the initial balance where they are missing. */
export async function seedAccounts(shards: PostgresShard[], count: number): Promise<void> {
  const names = shards.map((s) => s.name);
  await Promise.all(
    shards.map(async (shard) => {
      const ids: number[] = [];
      for (let a = 0; a < count; a++) if (shardOfAccount(a, names) === shard.name) ids.push(a);
      await shard.query("INSERT INTO accounts (id, balance) SELECT unnest($1::bigint[]), $2 ON CONFLICT (id) DO NOTHING", [
        ids,
        INITIAL_BALANCE,
      ]);
    }),
  );
}

export async function totalBalance(shards: PostgresShard[]): Promise<{ total: number; accounts: number }> {
  const parts = await Promise.all(
    shards.map((s) => s.query<{ total: string | null; n: string }>("SELECT sum(balance) AS total, count(*) AS n FROM accounts")),
  );
  return parts.reduce(
    (acc, r) => ({ total: acc.total + Number(r.rows[0]?.total ?? 0), accounts: acc.accounts + Number(r.rows[0]?.n ?? 0) }),
    { total: 0, accounts: 0 },
  );
}
