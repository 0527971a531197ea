// One-phase commit (a transaction with one branch and no outbox event commits with the shard's
// own COMMIT) under the chaos campaign's faults:
//
// 1. A lost COMMIT reply (the lost-reply nemesis's "commit-one-phase" pattern, through the
//    fault proxy) is settled by asking the shard (its evidence row) and answered COMMITTED.
// 2. When the shard cannot be asked either, the transaction is logged in doubt and answered
//    OUTCOME_PENDING; recovery then asks the shard and logs COMMITTED (not a presumed abort).
// 3. The coordinator dies between the shard's COMMIT and the lazy COMMITTED record
//    (recordOnePhase, not awaited). Found by the kill nemesis as "one-phase-unlogged" (the
//    work committed, no log row ever came, engine.outcome() answered null: "never
//    committed"). Fixed by the evidence row the COMMIT carries on the shard
//    (participants/onePhaseEvidence.ts): engine.outcome() finds it at once, and
//    reconciliation copies it into the log.
import type pg from "pg";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { LOSS_PATTERNS } from "../../scripts/chaos/nemeses";
import { PostgresShard } from "../participants/postgresShard";
import { applyLeg } from "../sim/transfer";
import { endpointOf, proxiedUrl, startFaultProxy } from "../testing/faultProxy";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { Engine } from "./engine";

let env: TestEnv;

beforeAll(async () => {
  // modulo placement over two shards: even accounts on shard-a, odd ones on shard-b.
  env = await createTestEnv({ shards: 2, accounts: 40, placement: "modulo" });
});
afterAll(async () => env?.cleanup());

const ledgerRows = async (shard: string, txId: string) =>
  Number((await env.shard(shard).query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);
const logged = (id: string) => env.prisma.transaction.findUnique({ where: { id }, select: { status: true, onePhase: true } });

it("answers COMMITTED when the one-phase COMMIT's reply is lost (the chaos campaign's lost-reply pattern)", async () => {
  // shard-a through a fault proxy that drops the reply of the next plain COMMIT, as the
  // lost-reply nemesis does ("commit-one-phase"): the branch's begin, its PREPARE and the
  // COMMIT PREPARED of phase two must not match it.
  const { url } = env.shardUrls.find((s) => s.name === "shard-a")!;
  const proxy = await startFaultProxy({ target: endpointOf(url), protocol: "postgres" });
  const proxied = new PostgresShard({ name: "shard-a", url: proxiedUrl(url, proxy.port), namespace: env.namespace });
  const engine = new Engine({
    prisma: env.prisma,
    pool: env.db.pool,
    lazyPool: env.lazyDb.pool,
    redis: env.redis,
    shards: [proxied, env.shard("shard-b")],
    options: { leaseMs: 1_000, heartbeatMs: 200, namespace: env.namespace },
  });
  try {
    await engine.start();
    proxy.loseReplies(LOSS_PATTERNS["commit-one-phase"].pattern, 1);
    // Two shards: PREPARE and COMMIT PREPARED on shard-a pass untouched.
    const wide = await engine.begin({ label: "two-phase-under-commit-loss" });
    await wide.run("shard-a", (c) => applyLeg(c, wide.id, 8, -1));
    await wide.run("shard-b", (c) => applyLeg(c, wide.id, 9, 1));
    await expect(wide.commit()).resolves.toMatchObject({ status: "COMMITTED" });
    expect(proxy.lostReplies).toBe(0);
    // One shard, no event: one phase, and its COMMIT's reply is dropped.
    const tx = await engine.begin({ label: "one-phase-lost-commit-reply" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 10, -1));
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 12, 1));
    await expect(tx.commit()).resolves.toMatchObject({ status: "COMMITTED" });
    expect(proxy.lostReplies).toBe(1);
    expect(await ledgerRows("shard-a", tx.id)).toBe(2);
    await waitFor(async () => (await logged(tx.id))?.status === "COMMITTED", 10_000, "the one-phase record");
    expect(await logged(tx.id)).toEqual({ status: "COMMITTED", onePhase: true });
  } finally {
    await engine.stop();
    await proxied.close();
    await proxy.close();
  }
});

it("settles a one-phase commit in doubt by asking the shard, not by presuming abort", async () => {
  const engine = await env.engine({ options: { reconcileEveryMs: 200 } });
  const shardA = env.shard("shard-a");
  const commitOnePhase = shardA.commitOnePhase.bind(shardA);
  // The COMMIT runs on the shard, its reply is lost, and the shard cannot be asked within
  // the settle window (what a partition longer than 15 s right after the COMMIT does).
  const spy = vi.spyOn(shardA, "commitOnePhase").mockImplementationOnce(async (client: pg.PoolClient, txId: string) => {
    const pid = (client as unknown as { processID: number }).processID;
    await commitOnePhase(client, txId);
    return { outcome: "unknown", error: new Error("Connection terminated unexpectedly"), pid };
  });
  try {
    const tx = await engine.begin({ label: "one-phase-in-doubt" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 0, -1));
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 2, 1));
    await expect(tx.commit()).rejects.toMatchObject({ code: "OUTCOME_PENDING" });
    expect(await ledgerRows("shard-a", tx.id)).toBe(2); // it did commit
    expect(await logged(tx.id)).toEqual({ status: "PREPARING", onePhase: true });
    // The stale sweep finishes it: it must find out the shard committed.
    const row = await waitFor(
      async () => {
        const r = await logged(tx.id);
        return r && (r.status === "COMMITTED" || r.status === "ABORTED") ? r : null;
      },
      20_000,
      "the in-doubt one-phase commit to be settled",
    );
    expect(row.status).toBe("COMMITTED"); // today: ABORTED, the ledger disagreeing with the log
    expect(await engine.outcome(tx.id)).toMatchObject({ status: "COMMITTED" });
  } finally {
    spy.mockRestore();
    await engine.stop();
  }
});

it("keeps a one-phase commit known to the log when its coordinator dies right after the COMMIT", async () => {
  // The afterDecision hook fires right after the shard's COMMIT, before the COMMITTED record:
  // hanging there forever is the coordinator dying at that point (the chaos campaign SIGKILLs
  // it there, kill point "one-phase-commit").
  let armed = true;
  const engine = await env.engine({
    hooks: {
      afterDecision: () => {
        if (!armed) return;
        armed = false;
        return new Promise<void>(() => undefined);
      },
    },
  });
  const tx = await engine.begin({ label: "one-phase-coordinator-dies" });
  await tx.run("shard-a", (c) => applyLeg(c, tx.id, 4, -1));
  await tx.run("shard-a", (c) => applyLeg(c, tx.id, 6, 1));
  void tx.commit().catch(() => undefined);
  await waitFor(async () => (await ledgerRows("shard-a", tx.id)) === 2, 10_000, "the local COMMIT");
  // Committed on the shard: the log (and so the console and engine.outcome) must know it.
  await waitFor(async () => (await engine.outcome(tx.id))?.status === "COMMITTED", 10_000, "the log to know the commit");
  expect(await logged(tx.id)).toBeNull(); // what outcome() said came from the shard's evidence
  // Reconciliation copies evidence older than its grace (5 s) into the log and drops it.
  await new Promise((r) => setTimeout(r, 5_500));
  const other = await env.engine();
  await other.reconcile();
  expect(await logged(tx.id)).toEqual({ status: "COMMITTED", onePhase: true });
  expect(await env.shard("shard-a").onePhaseCommitted([tx.id])).toEqual([]);
  expect(await other.outcome(tx.id)).toEqual({ id: tx.id, status: "COMMITTED", decision: "COMMIT" });
  await other.stop();
  await engine.stop({ drainMs: 100 });
});
