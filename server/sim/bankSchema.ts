// The bank used by the demo, the tests, chaos runs and benchmarks: accounts spread over
// the shards, and a ledger row per branch so that every transaction's effect on every
// shard can be checked against its logged outcome.
import type { PostgresShard } from "../participants/postgresShard";
import { initialPlacement, type AccountPlacement } from "./placement";

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

/**
 * Creates accounts 0..count-1 with the initial balance where `placement` puts them, unless
 * they exist on some shard already: after a rebalance an account may live elsewhere than a
 * fresh ring would put it, and must not be created twice. Nothing is created while accounts
 * are moving (see AccountPlacement.moving); the count of those left out is returned.
 * Without a placement, the initial ring over `shards` (initialPlacement).
 */
export async function seedAccounts(
  shards: PostgresShard[],
  count: number,
  placement?: AccountPlacement,
): Promise<{ created: number; deferred: number }> {
  const place = placement ?? (await initialPlacement(shards.map((s) => s.name)));
  const existing = new Set<number>();
  for (const shard of shards) {
    const { rows } = await shard.query<{ id: string }>("SELECT id FROM accounts WHERE id < $1", [count]);
    for (const r of rows) existing.add(Number(r.id));
  }
  const missing: number[] = [];
  for (let a = 0; a < count; a++) if (!existing.has(a)) missing.push(a);
  if (missing.length === 0 || place.moving) return { created: 0, deferred: missing.length };
  const byShard = new Map<string, number[]>();
  for (const a of missing) {
    const name = place.locate(String(a));
    const ids = byShard.get(name);
    if (ids) ids.push(a);
    else byShard.set(name, [a]);
  }
  const unknown = [...byShard.keys()].filter((name) => !shards.some((s) => s.name === name));
  if (unknown.length) throw new Error(`seedAccounts: the placement names shards not given: ${unknown.join(", ")}`);
  await Promise.all(
    shards.map(async (shard) => {
      const ids = byShard.get(shard.name);
      if (!ids) return;
      await shard.query("INSERT INTO accounts (id, balance) SELECT unnest($1::bigint[]), $2 ON CONFLICT (id) DO NOTHING", [
        ids,
        INITIAL_BALANCE,
      ]);
    }),
  );
  return { created: missing.length, deferred: 0 };
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
