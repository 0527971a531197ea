// The checker over one run's whole history: the coordinator logs, the shards, Redis, what
// every commit() answered (the history files), what the consumer received, and what the
// nemesis did. It reads the databases directly (plain pg, no Cohort code in the path) and
// returns violations by kind, each with a count and a one-line example. Deployment B's kinds
// are prefixed "b:" — B is never faulted, so any "b:" violation is one deployment hurting
// the other.
import fs from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { errorCodes } from "../../server/errors";
import { totalsKey } from "../../server/sim/transferTotals";
import type { Child } from "./children";
import { OPERATOR, type FaultRecord } from "./nemeses";
import type { HistoryLine } from "./protocol";
import { INITIAL_BALANCE, type Deployment, type Topology } from "./topology";

export interface Violations {
  /** kind → count */
  counts: Record<string, number>;
  /** kind → first example */
  examples: Record<string, string>;
}

export function newViolations(): Violations {
  return { counts: {}, examples: {} };
}

function add(v: Violations, kind: string, example: string, n = 1): void {
  if (n <= 0) return;
  v.counts[kind] = (v.counts[kind] ?? 0) + n;
  v.examples[kind] ??= example.slice(0, 400);
}

/** The "outcome pending" answer (the engine does not know yet): allowed, never a lie. */
const PENDING = "OUTCOME_PENDING";
const KNOWN_CODES = new Set<string>([...Object.keys(errorCodes), PENDING]);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

export function readHistory(runDir: string): HistoryLine[] {
  const lines: HistoryLine[] = [];
  for (const f of fs.readdirSync(runDir).filter((n) => n.endsWith(".history.jsonl"))) {
    for (const raw of fs.readFileSync(path.join(runDir, f), "utf8").split("\n")) {
      if (!raw) continue;
      try {
        lines.push(JSON.parse(raw) as HistoryLine);
      } catch {
        // the last line of a killed process may be cut short
      }
    }
  }
  return lines;
}

interface TxRow {
  id: string;
  status: string;
  ended: boolean;
  branches: string[];
  /** Committed (or in doubt) in one phase: the shard's local COMMIT was the commit point. */
  one_phase: boolean;
}

/** A transfer as the worker began it (its "transfer" history line). */
type Plan = Extract<HistoryLine, { ev: "transfer" }>;

/** One shard and no event: the engine commits it in one phase (no PREPARE, its log row written after the COMMIT). */
const isOnePhase = (plan: Plan | undefined) => plan !== undefined && plan.shards.length === 1 && !plan.publish;

export interface CheckInput {
  topo: Topology;
  record: FaultRecord;
  redisUrl: string;
  /** Children whose workload did not stop within the bound (commit() never answered). */
  hung: string[];
  /** Children that exited when the nemesis did not make them (checked before teardown). */
  crashed: Child[];
}

export async function checkRun(input: CheckInput): Promise<Violations> {
  const v = newViolations();
  const { topo, record } = input;
  const history = readHistory(topo.runDir);
  const shardPools = topo.shards.map((s) => ({ name: s.name, pool: new pg.Pool({ connectionString: s.url, max: 2 }) }));
  const logs = new Map<string, pg.Pool>(
    [topo.a, topo.b].map((d) => [d.name, new pg.Pool({ connectionString: d.databaseUrl, max: 2 })]),
  );
  try {
    // What each deployment's log says, and which deployment each transaction belongs to.
    const txs = new Map<string, Map<string, TxRow>>();
    const owner = new Map<string, string>();
    for (const d of [topo.a, topo.b]) {
      const { rows } = await logs.get(d.name)!.query<TxRow>(
        `SELECT t.id::text, t.status::text, t.ended_at IS NOT NULL AS ended, t.one_phase,
           COALESCE((SELECT array_agg(b.status::text) FROM branches b WHERE b.tx_id = t.id), '{}') AS branches
         FROM transactions t`,
      );
      txs.set(d.name, new Map(rows.map((r) => [r.id, r])));
      for (const r of rows) owner.set(r.id, d.name);
    }
    // What each transfer was to do (accounts, amount, shards, whether it publishes an event).
    const plans = new Map<string, Plan>();
    for (const line of history) if (line.ev === "transfer") plans.set(line.tx, line);
    // Ledger legs per transaction, over all shards.
    const legs = new Map<string, { n: number; account: number; deltas: Map<number, bigint> }>();
    /** Legs per transaction, kept after the per-deployment checks consume `legs`. */
    const legCount = new Map<string, number>();
    const fences = new Map<number, bigint>();
    /** "<tx>:<account>" of every leg on the shards. */
    const applied = new Set<string>();
    let preparedLeft: { gid: string; shard: string }[] = [];
    for (const s of shardPools) {
      const l = await s.pool.query<{ tx_id: string; account: string; delta: string }>(
        "SELECT tx_id::text, account::text, delta::text FROM ledger",
      );
      for (const r of l.rows) {
        const had = legs.get(r.tx_id) ?? { n: 0, account: 0, deltas: new Map<number, bigint>() };
        had.n++;
        had.account = Number(r.account);
        had.deltas.set(Number(r.account), BigInt(r.delta));
        legs.set(r.tx_id, had);
        legCount.set(r.tx_id, had.n);
        applied.add(`${r.tx_id}:${r.account}`);
      }
      const f = await s.pool.query<{ id: string; fence: string }>("SELECT id::text, fence::text FROM accounts");
      for (const r of f.rows) fences.set(Number(r.id), BigInt(r.fence));
      const p = await s.pool.query<{ gid: string }>("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
      preparedLeft = preparedLeft.concat(p.rows.map((r) => ({ gid: r.gid, shard: s.name })));
    }

    const deploymentOfAccount = (account: number) => (account >= topo.b.accountOffset ? topo.b : topo.a);
    const k = (d: Deployment, kind: string) => (d.name === "a" ? kind : `${d.name}:${kind}`);

    for (const d of [topo.a, topo.b]) {
      const log = logs.get(d.name)!;
      const mine = txs.get(d.name)!;
      // Money is conserved within each deployment's accounts.
      let total = 0n;
      for (const s of shardPools) {
        const { rows } = await s.pool.query<{ total: string | null }>(
          "SELECT sum(balance)::text AS total FROM accounts WHERE id >= $1 AND id < $2",
          [d.accountOffset, d.accountOffset + d.accounts],
        );
        total += BigInt(rows[0]?.total ?? "0");
      }
      const expected = BigInt(d.accounts * INITIAL_BALANCE);
      if (total !== expected) add(v, k(d, "money"), `balances of deployment ${d.name} sum to ${total}, expected ${expected}`);

      // Every transaction terminal, with status, outcome and ended_at telling one story.
      for (const tx of mine.values()) {
        if (!tx.ended) add(v, k(d, "not-terminal"), `${tx.id} still ${tx.status} after healing and settling`);
      }
      const mismatch = await log.query<{ id: string }>(
        `SELECT id::text FROM transactions
         WHERE (ended_at IS NULL) <> (status NOT IN ('COMMITTED', 'ABORTED'))
            OR (ended_at IS NOT NULL AND outcome IS DISTINCT FROM status)`,
      );
      for (const r of mismatch.rows) add(v, k(d, "status-mismatch"), `${r.id}: status, outcome and ended_at disagree`);

      // Every shard agrees with the logged decision.
      for (const tx of mine.values()) {
        const leg = legs.get(tx.id);
        const written = leg?.n ?? 0;
        legs.delete(tx.id);
        const plan = plans.get(tx.id);
        // The legs that are there moved what the transfer meant to move, between its accounts.
        if (leg && plan && !legsMatch(leg.deltas, plan))
          add(
            v,
            k(d, "ledger-vs-transfer"),
            `${tx.id}: legs ${[...leg.deltas].map(([a, x]) => `${a}:${x}`).join(",")} for a transfer of ${plan.amount} from ${plan.from} to ${plan.to}`,
          );
        // Only a transaction with one branch and no event may commit in one phase.
        if (tx.one_phase && plan && !isOnePhase(plan))
          add(
            v,
            k(d, "one-phase-ineligible"),
            `${tx.id}: logged one_phase, but its transfer spans ${plan.shards.join(",")}${plan.publish ? " and publishes an event" : ""}`,
          );
        if (tx.status === "COMMITTED" && written !== 2)
          add(v, k(d, "ledger-vs-log"), `${tx.id}: COMMITTED in the log, ${written} of 2 legs on the shards`);
        if (tx.status === "ABORTED" && written !== 0)
          add(v, k(d, "ledger-vs-log"), `${tx.id}: ABORTED in the log, ${written} leg(s) on the shards`);
        if (tx.status === "COMMITTED" && tx.branches.some((b) => b !== "COMMITTED"))
          add(v, k(d, "branch-vs-log"), `${tx.id}: COMMITTED with branches ${tx.branches.join(",")}`);
        if (tx.status === "ABORTED" && tx.branches.some((b) => b !== "ABORTED" && b !== "FAILED"))
          add(v, k(d, "branch-vs-log"), `${tx.id}: ABORTED with branches ${tx.branches.join(",")}`);
      }
    }
    // Legs of transactions neither log knows: work committed outside the protocol. A one-phase
    // transaction commits on its shard before its log row is written (lazily, not awaited):
    // a coordinator that dies in between leaves committed work the log never learns of, which
    // the console never shows and engine.outcome() cannot answer — its own kind, so that it
    // is told apart from work that no commit() ever committed.
    for (const [tx, leg] of legs) {
      const d = deploymentOfAccount(leg.account);
      const plan = plans.get(tx);
      if (isOnePhase(plan) && leg.n === 2 && legsMatch(leg.deltas, plan!)) {
        const answer = history.find((l): l is Extract<HistoryLine, { ev: "commit" }> => l.ev === "commit" && l.tx === tx);
        add(
          v,
          k(d, "one-phase-unlogged"),
          `${tx}: committed in one phase on ${plan!.shards[0]} (both legs there), no row in the log; commit() ${answer ? `answered ${answer.status ?? answer.code}` : "never answered (its process died)"}`,
        );
        continue;
      }
      add(v, k(d, "ledger-without-log"), `${tx}: ${leg.n} leg(s) on the shards (account ${leg.account}) but in no log`);
    }
    // No Cohort prepared transaction left.
    for (const p of preparedLeft) {
      const tx = UUID.exec(p.gid)?.[0];
      const d = tx && owner.get(tx) === "b" ? topo.b : topo.a;
      const status = tx ? (txs.get(d.name)!.get(tx)?.status ?? "not in the log") : "no tx id";
      add(v, k(d, "prepared-left"), `${p.gid} still prepared on ${p.shard} (log: ${status})`);
    }

    // What commit() answered agrees with the log.
    const processes = new Map<string, string>(); // process name → deployment
    for (const c of input.topo.allChildren()) {
      if (c.args.role === "engine") processes.set(c.name, c.args.deployment);
    }
    // And with the shards, which hold the truth: a one-phase commit's commit point is its
    // shard's COMMIT, not a log write, so the log is checked against the ledger (above) and
    // every answer against both.
    for (const line of history) {
      if (line.ev !== "commit" && line.ev !== "app-abort") continue;
      const d = processes.get(line.p) === "b" ? topo.b : topo.a;
      const logged = txs.get(d.name)!.get(line.tx)?.status ?? "absent";
      const written = legCount.get(line.tx) ?? 0;
      if (line.ev === "app-abort") {
        if (logged === "COMMITTED")
          add(v, k(d, "app-abort-but-committed"), `${line.tx}: the application gave up (${line.why}) but the log says COMMITTED`);
        if (written > 0)
          add(
            v,
            k(d, "app-abort-but-applied"),
            `${line.tx}: the application gave up (${line.why}) but ${written} leg(s) are on the shards`,
          );
        continue;
      }
      if (line.status) {
        if (written !== 2)
          add(
            v,
            k(d, "told-committed-but-not-applied"),
            `${line.tx}: commit() answered ${line.status}, ${written} of 2 legs on the shards (log: ${logged})`,
          );
        // A one-phase commit whose log row never came is reported once, as one-phase-unlogged.
        const unlogged = logged === "absent" && written === 2 && isOnePhase(plans.get(line.tx));
        if ((logged === "ABORTED" || logged === "absent") && !unlogged)
          add(v, k(d, "told-committed-but-aborted"), `${line.tx}: commit() answered ${line.status}, the log says ${logged}`);
        continue;
      }
      const code = line.code ?? "non-cohort";
      if (code === PENDING) continue;
      if (!KNOWN_CODES.has(code)) {
        add(
          v,
          k(d, "unknown-result"),
          `${line.tx}: commit() threw ${code === "non-cohort" ? "a non-Cohort error" : code}: ${line.msg ?? ""}`,
        );
        continue;
      }
      if (logged === "COMMITTED" || logged === "COMMITTING")
        add(
          v,
          k(d, "told-aborted-but-committed"),
          `${line.tx}: commit() threw ${code} (${line.msg ?? ""}), the log says ${logged}`,
        );
      if (written > 0)
        add(
          v,
          k(d, "told-aborted-but-applied"),
          `${line.tx}: commit() threw ${code} (${line.msg ?? ""}), yet ${written} leg(s) are on the shards (log: ${logged})`,
        );
    }

    // Transfers that published no event (one shard: one-phase commits): none must arrive for them.
    const unpublished = new Set([...plans.values()].filter((p) => !p.publish).map((p) => p.tx));
    await checkOutbox(v, input, history, txs.get("a")!, logs.get("a")!, unpublished);
    await checkOutboxTable(v, txs.get("b")!, logs.get("b")!, unpublished, (kind) => k(topo.b, kind));
    checkFencing(v, history, processes, applied, fences, (d, kind) => k(d === "b" ? topo.b : topo.a, kind));
    await checkTakeovers(v, input, txs.get("a")!, logs.get("a")!);

    // Every process still running, unless the nemesis killed it.
    for (const c of input.crashed) {
      const how = c.exit?.signal ?? `code ${c.exit?.code}`;
      add(
        v,
        c.args.role === "engine" && c.args.deployment === "b" ? "b:process-crash" : "process-crash",
        `${c.name} exited (${how}): ${crashLine(c.stderrTail(4_000))}`,
      );
    }
    for (const name of input.hung)
      add(v, "commit-hung", `${name}: its workload did not stop within the bound (a commit() never answered)`);

    // The console answered every operator action, and never with a 5xx.
    for (const e of record.operatorErrors) add(v, "operator-5xx", e);
    // Every operator action audited.
    if (record.operator.length) {
      const { rows } = await logs
        .get("a")!
        .query<{ target_id: string; n: string }>(
          "SELECT target_id, count(*) AS n FROM audit_log WHERE user_name = $1 GROUP BY target_id",
          [OPERATOR.name],
        );
      const audited = new Map(rows.map((r) => [r.target_id, Number(r.n)]));
      const taken = new Map<string, number>();
      for (const a of record.operator) taken.set(a.tx, (taken.get(a.tx) ?? 0) + 1);
      for (const [tx, n] of taken) {
        const m = audited.get(tx) ?? 0;
        if (m < n) {
          const last = record.operator.filter((a) => a.tx === tx).at(-1)!;
          add(
            v,
            "operator-unaudited",
            `${tx}: ${n} action(s) taken, ${m} audited (last: ${last.action} → ${last.outcome})`,
            n - m,
          );
        }
      }
    }
  } finally {
    for (const s of shardPools) await s.pool.end().catch(() => undefined);
    for (const l of logs.values()) await l.end().catch(() => undefined);
  }
  return v;
}

/** The legs are exactly the transfer's: -amount on `from`, +amount on `to` (of those present). */
function legsMatch(deltas: Map<number, bigint>, plan: Plan): boolean {
  const want = new Map([
    [plan.from, -BigInt(plan.amount)],
    [plan.to, BigInt(plan.amount)],
  ]);
  return [...deltas].every(([account, delta]) => want.get(account) === delta);
}

/**
 * Deployment A's outbox after dedupe: one event per committed transfer that published one,
 * none for any other. Transfers that published nothing (`unpublished`: the one-shard ones,
 * committed in one phase) are judged by the ledger and the balances instead, and must have
 * no event. Events still in the outbox table count as delivered-to-be (and say the relay is
 * stuck).
 */
async function checkOutbox(
  v: Violations,
  input: CheckInput,
  history: HistoryLine[],
  txs: Map<string, TxRow>,
  log: pg.Pool,
  unpublished: Set<string>,
): Promise<void> {
  const events = new Map<string, Set<string>>();
  for (const line of history) {
    if (line.ev !== "event" || line.type !== "transfer.completed") continue;
    const set = events.get(line.tx) ?? new Set();
    set.add(line.id);
    events.set(line.tx, set);
  }
  const { rows } = await log.query<{ id: string; tx_id: string }>("SELECT id::text, tx_id::text FROM outbox");
  if (rows.length) add(v, "outbox-stuck", `${rows.length} outbox row(s) never relayed after healing`, rows.length);
  for (const r of rows) {
    const set = events.get(r.tx_id) ?? new Set();
    set.add(r.id);
    events.set(r.tx_id, set);
  }
  let committed = 0;
  for (const tx of txs.values()) {
    const n = events.get(tx.id)?.size ?? 0;
    events.delete(tx.id);
    if (tx.status === "COMMITTED" && unpublished.has(tx.id)) {
      if (n > 0) add(v, "outbox-unpublished", `${tx.id}: COMMITTED, published no event, yet ${n} event(s) arrived`);
    } else if (tx.status === "COMMITTED") {
      committed++;
      if (n === 0) add(v, "outbox-lost", `${tx.id}: COMMITTED, its event never reached the consumer`);
      if (n > 1) add(v, "outbox-duplicate", `${tx.id}: COMMITTED with ${n} distinct events`);
    } else if (tx.status === "ABORTED" && n > 0) {
      add(v, "outbox-for-aborted", `${tx.id}: ABORTED but ${n} event(s) published`);
    }
  }
  for (const [tx, ids] of events) add(v, "outbox-for-aborted", `${tx}: ${ids.size} event(s) for a transaction not in the log`);
  // The demo's deduplicating consumer (its dedupe state lives in Redis, so only without data loss).
  if (!input.record.redisDataLoss) {
    const redis = new Redis(input.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on("error", () => undefined);
    try {
      await redis.connect();
      const h = await redis.hgetall(totalsKey(input.topo.a.namespace));
      const counted = Number(h.transfers ?? 0);
      if (counted !== committed)
        add(v, "outbox-totals", `the transfer-totals consumer counted ${counted} transfers, the log has ${committed} committed`);
    } finally {
      redis.disconnect();
    }
  }
}

/** A deployment without a relay: its outbox table holds exactly one event per committed transfer that published one. */
async function checkOutboxTable(
  v: Violations,
  txs: Map<string, TxRow>,
  log: pg.Pool,
  unpublished: Set<string>,
  k: (kind: string) => string,
) {
  const { rows } = await log.query<{ tx_id: string; n: string }>("SELECT tx_id::text, count(*) AS n FROM outbox GROUP BY tx_id");
  const n = new Map(rows.map((r) => [r.tx_id, Number(r.n)]));
  for (const tx of txs.values()) {
    const got = n.get(tx.id) ?? 0;
    n.delete(tx.id);
    if (tx.status === "COMMITTED" && unpublished.has(tx.id)) {
      if (got > 0) add(v, k("outbox-unpublished"), `${tx.id}: COMMITTED, published no event, yet ${got} outbox row(s)`);
    } else if (tx.status === "COMMITTED" && got !== 1)
      add(v, k(got ? "outbox-duplicate" : "outbox-lost"), `${tx.id}: COMMITTED with ${got} outbox row(s)`);
    if (tx.status === "ABORTED" && got > 0) add(v, k("outbox-for-aborted"), `${tx.id}: ABORTED with ${got} outbox row(s)`);
  }
  for (const [tx, got] of n) add(v, k("outbox-for-aborted"), `${tx}: ${got} outbox row(s), not in the log`);
}

/**
 * No write accepted under a stale token: of the writes on an account that stayed, the one with
 * the highest token must be the one the row's fence shows (a lower one committed later would
 * have overwritten it), and no two committed transactions may hold one token.
 */
function checkFencing(
  v: Violations,
  history: HistoryLine[],
  processes: Map<string, string>,
  applied: Set<string>,
  fences: Map<number, bigint>,
  k: (deployment: string, kind: string) => string,
): void {
  const byAccount = new Map<number, { tx: string; token: bigint; d: string }[]>();
  for (const line of history) {
    if (line.ev !== "fenced") continue;
    const d = processes.get(line.p) === "b" ? "b" : "a";
    // Only writes that are on the shards now count (a leg rolled back wrote nothing; the
    // ledger checks judge that).
    if (!applied.has(`${line.tx}:${line.account}`)) continue;
    const list = byAccount.get(line.account) ?? [];
    list.push({ tx: line.tx, token: BigInt(line.token), d });
    byAccount.set(line.account, list);
  }
  for (const [account, writes] of byAccount) {
    const d = writes[0]!.d;
    const max = writes.reduce((m, w) => (w.token > m.token ? w : m));
    const fence = fences.get(account) ?? 0n;
    if (fence < max.token)
      add(
        v,
        k(d, "stale-token-write"),
        `account ${account}: ${max.tx} committed under token ${max.token}, yet the row ends with fence ${fence} (an older token wrote after it)`,
      );
    const seen = new Map<bigint, string>();
    for (const w of writes) {
      const other = seen.get(w.token);
      if (other && other !== w.tx)
        add(v, k(d, "duplicate-token"), `account ${account}: token ${w.token} granted to ${other} and ${w.tx}, both committed`);
      seen.set(w.token, w.tx);
    }
  }
}

/**
 * No live instance's transaction aborted by a takeover. A takeover of instance X is judged
 * when the transaction it took ended ABORTED, undecided at the takeover, with no operator
 * decision: X must then have been dead (killed), paused, or cut off from the log (the
 * nemesis's excused windows). X alive and reachable means its lease lapsed while it worked:
 * the heartbeat waited behind something.
 */
async function checkTakeovers(v: Violations, input: CheckInput, txs: Map<string, TxRow>, log: pg.Pool): Promise<void> {
  const { rows } = await log.query<{ tx_id: string; at: Date; from: string | null; status: string | null }>(
    `SELECT tx_id::text, at, data->>'from' AS "from", data->>'status' AS status FROM tx_log WHERE type = 'takeover'`,
  );
  const operatorDecided = new Set(
    (
      await log.query<{ tx_id: string }>(
        `SELECT DISTINCT tx_id::text FROM tx_log WHERE type = 'decision' AND actor LIKE 'user:%'`,
      )
    ).rows.map((r) => r.tx_id),
  );
  const byInstance = new Map<string, Child>();
  for (const e of input.topo.engines) if (e.child.instance) byInstance.set(e.child.instance, e.child);
  for (const r of rows) {
    if (!r.from || (r.status !== "ACTIVE" && r.status !== "PREPARING")) continue;
    if (txs.get(r.tx_id)?.status !== "ABORTED" || operatorDecided.has(r.tx_id)) continue;
    const victim = byInstance.get(r.from);
    if (!victim) continue; // not one of ours (cannot happen in a fresh database)
    const at = r.at.getTime();
    if (victim.exit && victim.exit.at <= at + 1_000) continue; // dead (or dying) when taken over
    if (input.record.excused.some((w) => w.instance === r.from && at >= w.from && at <= w.to)) continue;
    add(v, "live-takeover", `${r.tx_id} (was ${r.status}) taken from live ${victim.name} at ${r.at.toISOString()} and aborted`);
  }
}

/** The error line of a crash's stderr and the frame under it (Node prints source context first). */
function crashLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim());
  const at = lines.findIndex((l) => /^(\w*Error|Uncaught|node:internal)/.test(l) || /Error: /.test(l));
  if (at < 0) return lines.slice(-3).join(" ");
  return lines.slice(at, at + 2).join(" ");
}
