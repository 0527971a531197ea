import type { Engine } from "../engine/engine";
import { CohortError, isCohortError } from "../errors";
import type { BranchClient } from "../participants/postgresShard";
import type { AccountPlacement } from "./placement";

/** What a caller's `commit()` answered: the status it returned, or the error it threw. */
export type CommitAnswer = { status: string } | { error: unknown };

/** Observers of one transfer, for checkers that compare what the application saw with the log (chaos). */
export interface TransferObservers {
  /**
   * A transfer attempt began as transaction `txId`: its accounts, amount, the shards its legs
   * go to and whether it publishes an outbox event (before any work, so a checker knows
   * every transaction the log may hold, and which ones have no event to expect).
   */
  onBegin?(txId: string, plan: TransferPlan): void;
  /** Every `commit()` result, right where it happened. */
  onCommit?(txId: string, answer: CommitAnswer): void;
  /** A leg's write was accepted under this fencing token (only with lockAccounts). */
  onFencedWrite?(txId: string, account: number, token: string): void;
}

export interface TransferPlan {
  from: number;
  to: number;
  amount: number;
  /** Distinct shards of the two legs, in leg order: one shard and no event is a one-phase commit. */
  shards: string[];
  publish: boolean;
}

export interface TransferResult {
  id: string;
  outcome: "committed" | "committing" | "insufficient" | "aborted";
  error?: CohortError;
  /** A leg found its account gone (moved by a rebalance) and the transfer ran again on fresh routing. */
  rerouted?: boolean;
}

/** The SQL of one leg; the benchmark's baseline runs exactly the same statement. */
export const LEG_SQL = `
  WITH moved AS (
    UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND balance + $2 >= 0 RETURNING id)
  INSERT INTO ledger (tx_id, account, delta) SELECT $3::uuid, id, $2 FROM moved RETURNING account`;

/**
 * The same leg under a lock: the row keeps the highest fencing token that wrote it and
 * refuses an older one, so a holder whose lease lapsed can never overwrite a newer
 * holder's work (DESIGN.md §3).
 */
export const FENCED_LEG_SQL = `
  WITH moved AS (
    UPDATE accounts SET balance = balance + $2, fence = $4::bigint
    WHERE id = $1 AND balance + $2 >= 0 AND fence <= $4::bigint RETURNING id)
  INSERT INTO ledger (tx_id, account, delta) SELECT $3::uuid, id, $2 FROM moved RETURNING account`;

export async function applyLeg(
  client: BranchClient,
  txId: string,
  account: number,
  delta: number,
  token?: string,
): Promise<boolean> {
  const { rowCount } =
    token === undefined
      ? await client.query(LEG_SQL, [account, delta, txId])
      : await client.query(FENCED_LEG_SQL, [account, delta, txId, token]);
  return rowCount === 1;
}

/**
 * Moves `amount` from one account to another, each on the shard `placement` says holds
 * it, in one Cohort transaction. Legs run in account order so two transfers over the same
 * pair never wait on each other across shards (a distributed deadlock PostgreSQL cannot see).
 *
 * A leg that changes no row either lacks funds or did not find its account: a rebalance
 * moved it after `placement` last heard. Routing is then refreshed and the transfer runs
 * once more (it was aborted, so nothing happened twice); a second miss aborts it with the
 * reason, which is the window routing.ts describes between a move's commit and its cursor.
 */
export async function transfer(
  engine: Engine,
  placement: AccountPlacement,
  from: number,
  to: number,
  amount: number,
  timeoutMs?: number,
  opts: { lockAccounts?: boolean; publish?: boolean; observers?: TransferObservers } = {},
): Promise<TransferResult> {
  const attempt = () =>
    attemptOnce(engine, placement, from, to, amount, timeoutMs, opts.lockAccounts ?? false, opts.publish ?? true, opts.observers);
  const first = await attempt();
  if (!("missing" in first)) return first;
  if (placement.refresh) {
    await placement.refresh({ account: String(first.missing.account), notOn: first.missing.shard });
    const second = await attempt();
    if (!("missing" in second)) return { ...second, rerouted: true };
    return moved(second, true);
  }
  return moved(first, false);
}

type Missing = { id: string; missing: { account: number; shard: string } };

function moved(m: Missing, retried: boolean): TransferResult {
  const { account, shard } = m.missing;
  const error = new CohortError(
    "RING_CONFLICT",
    `account ${account} is not on ${shard}: it is being moved by a rebalance${retried ? " (still there after refreshing routing)" : ""}`,
    { details: { reason: "account-moved", account, shard } },
  );
  return { id: m.id, outcome: "aborted", error, ...(retried ? { rerouted: true } : {}) };
}

async function attemptOnce(
  engine: Engine,
  placement: AccountPlacement,
  from: number,
  to: number,
  amount: number,
  timeoutMs: number | undefined,
  lockAccounts: boolean,
  publish: boolean,
  observers: TransferObservers = {},
): Promise<TransferResult | Missing> {
  const tx = await engine.begin({ label: "transfer", ...(timeoutMs ? { timeoutMs } : {}) });
  try {
    const legs = [
      { account: from, delta: -amount },
      { account: to, delta: amount },
    ].sort((a, b) => a.account - b.account);
    if (observers.onBegin) {
      const shards = [...new Set(legs.map((l) => placement.locate(String(l.account))))];
      observers.onBegin(tx.id, { from, to, amount, shards, publish });
    }
    for (const leg of legs) {
      // Locks are taken in account order too, so transfers never deadlock on them.
      const token = lockAccounts ? (await tx.lock(`account:${leg.account}`)).token : undefined;
      const shard = placement.locate(String(leg.account));
      const ok = await tx.run(shard, (c) => applyLeg(c, tx.id, leg.account, leg.delta, token));
      if (ok && token !== undefined) observers.onFencedWrite?.(tx.id, leg.account, token);
      if (ok) continue;
      // The rare path: one more statement to tell "no funds" from "not here" (and "fenced off").
      const here = await tx.run(shard, (c) =>
        c.query<{ fence: string }>("SELECT fence FROM accounts WHERE id = $1", [leg.account]),
      );
      if (here.rowCount === 1 && token !== undefined && BigInt(here.rows[0]!.fence) > BigInt(token)) {
        const err = new CohortError(
          "STALE_TOKEN",
          `account ${leg.account} was written under a newer lock than ours (token ${token}): our lease lapsed`,
        );
        await tx.abort(err.message);
        return { id: tx.id, outcome: "aborted", error: err };
      }
      if (here.rowCount === 1) {
        await tx.abort(`insufficient funds in account ${from}`);
        return { id: tx.id, outcome: "insufficient" };
      }
      await tx.abort(`account ${leg.account} not found on ${shard}: moved by a rebalance`);
      return { id: tx.id, missing: { account: leg.account, shard } };
    }
    // Through the transactional outbox: consumers see it exactly when the transfer commits.
    if (publish) {
      tx.publish({ aggregatetype: "transfer", aggregateid: tx.id, type: "transfer.completed", payload: { from, to, amount } });
    }
    let result: Awaited<ReturnType<typeof tx.commit>>;
    try {
      result = await tx.commit();
    } catch (err) {
      observers.onCommit?.(tx.id, { error: err });
      throw err;
    }
    observers.onCommit?.(tx.id, { status: result.status });
    return { id: tx.id, outcome: result.status === "COMMITTED" ? "committed" : "committing" };
  } catch (err) {
    if (isCohortError(err)) return { id: tx.id, outcome: "aborted", error: err };
    throw err;
  }
}
