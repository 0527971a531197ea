// The bank's side of a rebalance: how one account moves between shards, and how the
// executor pages through every account (rebalanceRunner.ts's moveKey and fetchKeys).
// The ledger stays where it is: its rows record what happened on that shard and are
// checked against the coordinator log per shard (sim/invariants.ts).
import type { Engine } from "../engine/engine";
import { CohortError, errorMessage } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import type { AccountPlacement } from "../sim/placement";
import { compareKeys } from "./rebalance";
import type { MoveOutcome } from "./rebalanceRunner";

export const MOVE_LABEL = "rebalance.move";

/**
 * Moves one account from shard `from` to shard `to` in ONE Cohort transaction: the row is
 * read and deleted on `from` and inserted on `to`, and both commit or neither does, so the
 * account is never lost and never on two shards.
 *
 * Idempotent for the executor's retry after a crash: when `from` no longer has the row but
 * `to` has it, an earlier attempt committed and "already" is returned with nothing changed.
 * The insert says ON CONFLICT DO NOTHING so that a row already on `to` (which routing
 * forbids) aborts the move with a clear error instead of a constraint failure mid-commit.
 */
export async function moveAccount(
  engine: Engine,
  key: string,
  from: string,
  to: string,
  timeoutMs?: number,
): Promise<MoveOutcome> {
  const id = accountId(key);
  const tx = await engine.begin({ label: MOVE_LABEL, ...(timeoutMs ? { timeoutMs } : {}) });
  try {
    // The DELETE takes the row lock: a transfer holding it (or prepared on it) finishes first,
    // and transfers arriving later find the row gone and re-route (sim/transfer.ts).
    const taken = await tx.run(from, (c) =>
      c.query<{ balance: string; fence: string }>("DELETE FROM accounts WHERE id = $1 RETURNING balance, fence", [id]),
    );
    const row = taken.rows[0];
    if (!row) {
      const there = await tx.run(to, (c) => c.query("SELECT 1 FROM accounts WHERE id = $1", [id]));
      await tx.abort(there.rowCount === 1 ? "account already moved" : "account not found");
      if (there.rowCount === 1) return "already";
      throw new CohortError("NOT_FOUND", `account ${id} is on neither ${from} nor ${to}`, { details: { account: id, from, to } });
    }
    const inserted = await tx.run(to, (c) =>
      c.query("INSERT INTO accounts (id, balance, fence) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id", [
        id,
        row.balance,
        row.fence,
      ]),
    );
    if (inserted.rowCount !== 1) {
      await tx.abort("account already on the target shard");
      // Not retryable: the account exists twice, which needs a person (INTERNAL stops the run).
      throw new CohortError("INTERNAL", `account ${id} is on both ${from} and ${to}; the move was aborted`, {
        details: { account: id, from, to },
      });
    }
    await tx.commit();
    return "moved";
  } catch (err) {
    if (tx.status === "active") await tx.abort(`move failed: ${String(err)}`).catch(() => undefined);
    throw err;
  }
}

/**
 * Up to `limit` account ids after `after`, from every shard, merged in rebalance order
 * (numeric for canonical account ids). Each shard is asked for `limit` rows, so the merged
 * first `limit` leaves none out. The bigint itself is selected (pg returns it as a string):
 * `SELECT id::text … ORDER BY id` would order by the text column and put "10" before "9".
 */
export async function fetchAccountKeys(shards: readonly PostgresShard[], after: string | null, limit: number): Promise<string[]> {
  if (after !== null) accountId(after);
  const pages = await Promise.all(
    shards.map((s) =>
      s.query<{ id: string }>("SELECT id FROM accounts WHERE $1::bigint IS NULL OR id > $1::bigint ORDER BY id LIMIT $2", [
        after,
        limit,
      ]),
    ),
  );
  return [...new Set(pages.flatMap((p) => p.rows.map((r) => r.id)))].sort(compareKeys).slice(0, limit);
}

/** moveKey and fetchKeys for runRebalance, over the engine's shards. */
export function accountMover(deps: { engine: Engine; shards: readonly PostgresShard[]; moveTimeoutMs?: number }) {
  return {
    moveKey: (key: string, from: string, to: string) => moveAccount(deps.engine, key, from, to, deps.moveTimeoutMs),
    fetchKeys: (after: string | null, limit: number) => fetchAccountKeys(deps.shards, after, limit),
  };
}

/**
 * Moves every account that is not on the shard `placement` gives it, e.g. the accounts of a
 * deployment seeded before it had a ring, or left by a sweep a crash cut short (it is run
 * at every start and does nothing when all is in place). Not while a rebalance is
 * unfinished: its executor owns the moving then. Call before anything routes by
 * `placement`: until an account is moved, transactions look for it in vain.
 */
export async function placeStrayAccounts(
  engine: Engine,
  shards: readonly PostgresShard[],
  placement: AccountPlacement,
  opts: { concurrency?: number; log?: (line: string) => void } = {},
): Promise<number> {
  if (placement.moving) return 0;
  const strays: { key: string; from: string; to: string }[] = [];
  for (const shard of shards) {
    const rows = await shard.query<{ id: string }>("SELECT id FROM accounts").then(
      (r) => r.rows,
      (err: unknown) => {
        if ((err as { code?: string }).code === UNDEFINED_TABLE) return []; // no bank on this shard yet
        throw err;
      },
    );
    for (const { id } of rows) {
      const to = placement.locate(id);
      if (to !== shard.name) strays.push({ key: id, from: shard.name, to });
    }
  }
  if (strays.length === 0) return 0;
  opts.log?.(`[ring] ${strays.length} account(s) are not where the ring puts them: moving them`);
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < strays.length) {
      const s = strays[next++]!;
      // One account that cannot move (its shard down) must not keep the process from
      // starting: transactions on it abort with a clear reason, and the next start retries.
      await moveAccount(engine, s.key, s.from, s.to).catch((err: unknown) => {
        failed++;
        opts.log?.(`[ring] moving account ${s.key} from ${s.from} to ${s.to} failed: ${errorMessage(err)}`);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, strays.length) }, worker));
  return strays.length - failed;
}

/** SQLSTATE 42P01: relation does not exist. */
const UNDEFINED_TABLE = "42P01";

/** Account keys are canonical non-negative decimal integers (what compareKeys orders numerically). */
function accountId(key: string): string {
  if (!/^(0|[1-9]\d{0,18})$/.test(key)) throw new CohortError("INTERNAL", `"${key}" is not an account id`);
  return key;
}
