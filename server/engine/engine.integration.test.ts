import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CohortError } from "../errors";
import { forceAbort } from "../ops/actions";
import { applyLeg } from "../sim/transfer";
import { getTransactionDetail } from "../transactions/detail";
import { totalBalance } from "../sim/bankSchema";
import { startWorkload } from "../sim/workload";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import type { Engine } from "./engine";

let env: TestEnv;
let engine: Engine;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 100, placement: "modulo" });
  engine = await env.engine();
});
afterAll(async () => env?.cleanup());

const ledgerRows = async (shard: string, txId: string) =>
  Number((await env.shard(shard).query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);
const balance = async (shard: string, account: number) =>
  Number(
    (await env.shard(shard).query<{ balance: string }>("SELECT balance FROM accounts WHERE id = $1", [account])).rows[0]!.balance,
  );
const txRow = (id: string) =>
  env.prisma.transaction.findUniqueOrThrow({
    where: { id },
    select: { status: true, decision: true, abortReason: true, branches: true },
  });
const timeline = async (id: string) =>
  (await env.prisma.logRecord.findMany({ where: { txId: id }, orderBy: { id: "asc" }, select: { type: true, shard: true } })).map(
    (r) => (r.shard ? `${r.type}@${r.shard}` : r.type),
  );
const preparedCount = async () => (await Promise.all(env.shards.map((s) => s.listPrepared()))).flat().length;
const outboxRowsOf = async (txId: string) =>
  Number((await env.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE tx_id = $1", [txId])).rows[0]!.n);
const operator = { id: "00000000-0000-0000-0000-000000000001", name: "test-operator" };

/** The SQL text of every statement run on `pool` while `fn` runs (the statements still run). */
async function statementsOn(pool: pg.Pool, fn: () => Promise<unknown>): Promise<string[]> {
  const spy = vi.spyOn(pool, "query");
  try {
    await fn();
    return spy.mock.calls.map((args) => {
      const q: unknown = args[0];
      return typeof q === "string" ? q : (q as { text: string }).text;
    });
  } finally {
    spy.mockRestore();
  }
}

// Accounts 0 and 1 live on shard-a and shard-b (account % 2).
describe("two-phase commit across shards", () => {
  it("commits both branches atomically and logs every step", async () => {
    const before = [await balance("shard-a", 0), await balance("shard-b", 1)];
    const tx = await engine.begin({ label: "test-commit" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 0, -10));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 1, 10));
    const outcome = await tx.commit();
    expect(outcome).toEqual({ id: tx.id, status: "COMMITTED" });
    expect([await balance("shard-a", 0), await balance("shard-b", 1)]).toEqual([before[0]! - 10, before[1]! + 10]);
    // The end record is written in the background, after the caller heard COMMITTED.
    await waitFor(async () => (await txRow(tx.id)).status === "COMMITTED", 5_000, "the end record");
    const row = await txRow(tx.id);
    expect(row.decision).toBe("COMMIT");
    expect(row.branches.map((b) => [b.shard, b.status, b.vote]).sort()).toEqual([
      ["shard-a", "COMMITTED", true],
      ["shard-b", "COMMITTED", true],
    ]);
    // The lean path writes no timeline records: the console derives every step from the row.
    expect(await timeline(tx.id)).toEqual([]);
    const detail = (await getTransactionDetail(env.prisma, tx.id))!;
    expect(detail.timeline.map((r) => r.type)).toEqual(["begin", "prepare", "decision", "end"]);
    expect(detail.timeline[1]!.data).toEqual({ shards: ["shard-a", "shard-b"] });
    expect(detail.timeline[2]!.data).toEqual({ decision: "COMMIT", votes: { "shard-a": "yes", "shard-b": "yes" } });
    expect(detail.timeline[3]!.data).toMatchObject({ status: "COMMITTED", resolved: ["shard-a", "shard-b"] });
    expect(detail.timeline.every((r) => r.actor === `engine:${engine.instanceId}`)).toBe(true);
    expect(await preparedCount()).toBe(0);
  });

  it("commits a one-shard transaction in one phase: no PREPARE, nothing forced, a COMMITTED record afterwards", async () => {
    const before = await balance("shard-a", 30);
    const tx = await engine.begin({ label: "test-one-phase" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 30, 7));
    const shardA = env.shard("shard-a");
    const prepare = vi.spyOn(shardA, "prepare");
    try {
      const forced = await statementsOn(env.db.pool, async () => {
        await expect(tx.commit()).resolves.toEqual({ id: tx.id, status: "COMMITTED" });
      });
      expect(forced).toEqual([]);
      expect(prepare).not.toHaveBeenCalled();
    } finally {
      prepare.mockRestore();
    }
    expect(await balance("shard-a", 30)).toBe(before + 7);
    await waitFor(async () => (await env.prisma.transaction.findUnique({ where: { id: tx.id } })) !== null, 5_000, "its record");
    const row = await env.prisma.transaction.findUniqueOrThrow({ where: { id: tx.id }, include: { branches: true } });
    expect(row).toMatchObject({
      status: "COMMITTED",
      outcome: "COMMITTED",
      decision: "COMMIT",
      onePhase: true,
      preparedAt: null,
    });
    expect(row.branches.map((b) => [b.shard, b.status, b.vote])).toEqual([["shard-a", "COMMITTED", true]]);
    const detail = (await getTransactionDetail(env.prisma, tx.id))!;
    expect(detail.timeline.map((r) => r.type)).toEqual(["begin", "decision", "end"]);
    expect(detail.timeline[1]!.data).toEqual({ decision: "COMMIT", onePhase: true, shard: "shard-a" });
    expect(await engine.outcome(tx.id)).toEqual({ id: tx.id, status: "COMMITTED", decision: "COMMIT" });
  });

  it("uses two-phase commit for a one-shard transaction with outbox events", async () => {
    const tx = await engine.begin({ label: "test-one-shard-events" });
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 31, 1));
    tx.publish({ aggregatetype: "test", aggregateid: tx.id, type: "test.one-shard", payload: null });
    await expect(tx.commit()).resolves.toEqual({ id: tx.id, status: "COMMITTED" });
    await waitFor(async () => (await txRow(tx.id)).status === "COMMITTED", 5_000, "the end record");
    const row = await env.prisma.transaction.findUniqueOrThrow({ where: { id: tx.id } });
    expect(row.onePhase).toBe(false);
    expect(row.preparedAt).not.toBeNull();
    expect(await outboxRowsOf(tx.id)).toBe(1);
  });

  it("aborts a one-shard transaction whose COMMIT fails on the shard, and says why", async () => {
    await env.shard("shard-a").query(`
      CREATE TABLE IF NOT EXISTS one_phase_parents (id int PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS one_phase_children (parent int REFERENCES one_phase_parents DEFERRABLE INITIALLY DEFERRED)`);
    const before = await balance("shard-a", 32);
    const tx = await engine.begin({ label: "test-one-phase-fails" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 32, -3));
    // A deferred foreign key is only checked at COMMIT: the shard refuses it.
    await tx.run("shard-a", (c) => c.query("INSERT INTO one_phase_children VALUES (42)"));
    // The shard's answer is final: nothing to ask it afterwards.
    const settle = vi.spyOn(env.shard("shard-a"), "settleOnePhase");
    const err = await tx.commit().catch((e: unknown) => e);
    expect(settle).not.toHaveBeenCalled();
    settle.mockRestore();
    expect(err).toMatchObject({ code: "BRANCH_FAILED", message: expect.stringMatching(/foreign key/) });
    expect(await balance("shard-a", 32)).toBe(before);
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    expect(await txRow(tx.id)).toMatchObject({ status: "ABORTED", decision: "ABORT" });
  });

  it("aborts at once a one-phase commit on a shard without the evidence table, and makes the table", async () => {
    const shardB = env.shard("shard-b");
    await shardB.query("DROP TABLE cohort_one_phase"); // as on a shard that was down when the engine started
    const tx = await engine.begin({ label: "test-one-phase-no-table" });
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 39, 1));
    const started = Date.now();
    await expect(tx.commit()).rejects.toMatchObject({
      code: "BRANCH_FAILED",
      message: expect.stringMatching(/cohort_one_phase/),
    });
    expect(Date.now() - started).toBeLessThan(5_000); // not the 15 s settle window
    expect(await ledgerRows("shard-b", tx.id)).toBe(0);
    await waitFor(
      async () => (await shardB.query("SELECT to_regclass('cohort_one_phase') IS NOT NULL AS ok")).rows[0]!.ok === true,
      5_000,
      "the table to be made",
    );
    const next = await engine.begin({ label: "test-one-phase-table-back" });
    await next.run("shard-b", (c) => applyLeg(c, next.id, 39, 1));
    await expect(next.commit()).resolves.toEqual({ id: next.id, status: "COMMITTED" });
  });

  it("learns a one-phase outcome from the shard when the COMMIT's reply is lost", async () => {
    const shardA = env.shard("shard-a");
    const tx = await engine.begin({ label: "test-one-phase-lost-reply" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 34, 5));
    // The COMMIT runs on the shard, then the connection dies before the reply is read.
    const lose = (client: pg.PoolClient) => {
      const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
      vi.spyOn(client, "query").mockImplementationOnce((async (...args: unknown[]) => {
        await query(...args);
        throw new Error("Connection terminated unexpectedly");
      }) as never);
    };
    const commitOnePhase = shardA.commitOnePhase.bind(shardA);
    const spy = vi.spyOn(shardA, "commitOnePhase").mockImplementationOnce(async (client, txId) => {
      lose(client);
      return commitOnePhase(client, txId);
    });
    try {
      await expect(tx.commit()).resolves.toEqual({ id: tx.id, status: "COMMITTED" });
    } finally {
      spy.mockRestore();
    }
    expect(await ledgerRows("shard-a", tx.id)).toBe(1);
  });

  it("aborts everywhere when a shard votes no at PREPARE", async () => {
    // A deferred foreign key is only checked at PREPARE: the shard votes no.
    await env.shard("shard-b").query(`
      CREATE TABLE IF NOT EXISTS parents (id int PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS children (parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED)`);
    const before = await balance("shard-a", 2);
    const tx = await engine.begin({ label: "test-no-vote" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 2, -5));
    await tx.run("shard-b", (c) => c.query("INSERT INTO children VALUES (42)"));
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CohortError);
    expect((err as CohortError).code).toBe("VOTED_NO");
    const row = await txRow(tx.id);
    expect(row.status).toBe("ABORTED");
    expect(row.decision).toBe("ABORT");
    const b = Object.fromEntries(row.branches.map((x) => [x.shard, x]));
    expect(b["shard-b"]).toMatchObject({ status: "FAILED", vote: false });
    expect(b["shard-a"]).toMatchObject({ status: "ABORTED", vote: true });
    expect(await balance("shard-a", 2)).toBe(before);
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    expect(await preparedCount()).toBe(0);
  });

  it("aborts and prepares nothing when a branch throws", async () => {
    const before = await balance("shard-a", 4);
    const tx = await engine.begin({ label: "test-branch-error" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 4, -5));
    const err = await tx.run("shard-b", (c) => c.query("SELECT 1/0")).catch((e: unknown) => e);
    expect((err as CohortError).code).toBe("BRANCH_FAILED");
    expect((err as Error).message).toMatch(/division by zero/);
    // The transaction is over: further work and commit say why.
    await expect(tx.run("shard-a", (c) => c.query("SELECT 1"))).rejects.toMatchObject({ code: "BRANCH_FAILED" });
    await expect(tx.commit()).rejects.toMatchObject({ code: "BRANCH_FAILED" });
    expect((await txRow(tx.id)).status).toBe("ABORTED");
    expect(await balance("shard-a", 4)).toBe(before);
    expect(await preparedCount()).toBe(0);
  });

  it("rejects misuse with typed errors", async () => {
    const tx = await engine.begin({ label: "test-misuse" });
    await expect(tx.run("shard-z", (c) => c.query("SELECT 1"))).rejects.toMatchObject({ code: "UNKNOWN_SHARD" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 6, -1));
    await tx.commit();
    await expect(tx.commit()).rejects.toMatchObject({ code: "TX_NOT_ACTIVE" });
    await expect(tx.run("shard-a", (c) => c.query("SELECT 1"))).rejects.toMatchObject({ code: "TX_NOT_ACTIVE" });
    await expect(engine.begin({ label: "" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(engine.begin({ label: "x", timeoutMs: -1 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const aborted = await engine.begin({ label: "test-abort" });
    await aborted.run("shard-b", (c) => applyLeg(c, aborted.id, 7, -1));
    await aborted.abort("changed my mind");
    await expect(aborted.commit()).rejects.toMatchObject({ code: "TX_ABORTED" });
    const row = await txRow(aborted.id);
    expect(row.status).toBe("ABORTED");
    expect(row.abortReason).toBe("changed my mind");
    expect(await ledgerRows("shard-b", aborted.id)).toBe(0);
  });

  it("aborts a transaction that passes its deadline", async () => {
    const tx = await engine.begin({ label: "test-timeout", timeoutMs: 300 });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 8, -1));
    await new Promise((r) => setTimeout(r, 600));
    await expect(tx.run("shard-b", (c) => c.query("SELECT 1"))).rejects.toMatchObject({ code: "TX_TIMED_OUT" });
    await expect(tx.commit()).rejects.toMatchObject({ code: "TX_TIMED_OUT" });
    const row = await waitFor(async () => {
      const r = await txRow(tx.id);
      return r.status === "ABORTED" ? r : null;
    });
    expect(row.abortReason).toBe("timeout");
    expect(await timeline(tx.id)).toContain("timeout");
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
  });

  it("aborts when the deadline passes between PREPARE and the decision", async () => {
    const slow = await env.engine({
      hooks: { afterPrepare: () => new Promise((r) => setTimeout(r, 1_500)) },
    });
    const tx = await slow.begin({ label: "test-late-decision", timeoutMs: 1_000 });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 10, -1));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 11, 1));
    await expect(tx.commit()).rejects.toMatchObject({ code: "TX_TIMED_OUT" });
    await waitFor(async () => (await txRow(tx.id)).status === "ABORTED", 10_000, "ABORTED");
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    expect(await preparedCount()).toBe(0);
    await slow.stop();
  });

  it("rolls back prepared branches when the coordinator fails internally before deciding", async () => {
    const broken = await env.engine({
      hooks: {
        afterPrepare: (_id, shard) => {
          if (shard === "shard-b") throw new Error("simulated coordinator fault");
        },
      },
    });
    const tx = await broken.begin({ label: "test-internal-failure" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 14, -1));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 15, 1));
    await expect(tx.commit()).rejects.toMatchObject({
      code: "TX_ABORTED",
      message: expect.stringMatching(/simulated coordinator fault/),
    });
    expect((await txRow(tx.id)).status).toBe("ABORTED");
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    expect(await preparedCount()).toBe(0);
    await broken.stop();
  });

  it("aborts everywhere when a shard drops a branch's connection before PREPARE", async () => {
    const tx = await engine.begin({ label: "test-connection-lost" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 18, -1));
    const pid = await tx.run("shard-b", async (c) => {
      await applyLeg(c, tx.id, 19, 1);
      return (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    });
    // The shard restarts, or an administrator kills the session, while the branch waits for commit.
    await env.shard("shard-b").query("SELECT pg_terminate_backend($1)", [pid]);
    await new Promise((r) => setTimeout(r, 100));
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "VOTED_NO", message: expect.stringMatching(/shard-b/) });
    const row = await txRow(tx.id);
    expect(row.status).toBe("ABORTED");
    const b = Object.fromEntries(row.branches.map((x) => [x.shard, x]));
    expect(b["shard-b"]).toMatchObject({ status: "FAILED", vote: false });
    expect(b["shard-a"]).toMatchObject({ status: "ABORTED", vote: true });
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    expect(await ledgerRows("shard-b", tx.id)).toBe(0);
    expect(await preparedCount()).toBe(0);
  });

  it("logs the abort at once when a branch fails while commit() waits for it", async () => {
    const tx = await engine.begin({ label: "test-fails-during-commit" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 20, -1));
    // Not awaited: commit() starts while this branch's work is still running.
    const failing = tx.run("shard-b", (c) => c.query("SELECT pg_sleep(0.05), 1/0")).catch((e: unknown) => e);
    await expect(tx.commit()).rejects.toMatchObject({ code: "BRANCH_FAILED" });
    expect(await failing).toMatchObject({ code: "BRANCH_FAILED" });
    // Not left ACTIVE for the stale sweep (every reconcileEveryMs) to find.
    await waitFor(async () => (await txRow(tx.id)).status === "ABORTED", 2_000, "ABORTED in the log");
    expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    expect(await preparedCount()).toBe(0);
  });

  it("commits a transaction without branch work, forcing its outbox events", async () => {
    const tx = await engine.begin({ label: "test-branchless" });
    tx.publish({ aggregatetype: "test", aggregateid: tx.id, type: "test.branchless", payload: { n: 1 } });
    // The events are the transaction's only effect: like a COMMIT decision they must be on disk before the caller hears COMMITTED.
    const lazy = await statementsOn(env.lazyDb.pool, async () => {
      const forced = await statementsOn(env.db.pool, async () => {
        await expect(tx.commit()).resolves.toEqual({ id: tx.id, status: "COMMITTED" });
      });
      expect(forced.filter((q) => q.includes("INSERT INTO outbox"))).toHaveLength(1);
    });
    expect(lazy.filter((q) => q.includes("INSERT INTO outbox"))).toHaveLength(0);
    expect(await outboxRowsOf(tx.id)).toBe(1);
    const row = await txRow(tx.id);
    expect(row).toMatchObject({ status: "COMMITTED", decision: "COMMIT", branches: [] });
    const detail = (await getTransactionDetail(env.prisma, tx.id))!;
    expect(detail.timeline.map((r) => r.type)).toEqual(["begin", "end"]);
  });

  it("refuses to start a commit once its instance's lease has run out (a pause longer than the lease)", async () => {
    const paused = await env.engine();
    const tx = await paused.begin({ label: "test-lease-lapsed", timeoutMs: 30_000 });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 36, -1));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 37, 1));
    paused.simulateCrash(); // no more heartbeats: the lease (1 s in tests) runs out while the handle lives on
    await env.prisma.engineInstance.update({
      where: { id: paused.instanceId },
      data: { leaseExpiresAt: new Date(Date.now() - 1_000) },
    });
    await expect(tx.commit()).rejects.toMatchObject({ code: "TX_ABORTED", message: expect.stringMatching(/lease ran out/) });
    expect(await preparedCount()).toBe(0);
    expect([await ledgerRows("shard-a", tx.id), await ledgerRows("shard-b", tx.id)]).toEqual([0, 0]);
  });

  it("has no record of a transaction before its commit begins, so an operator cannot act on it yet", async () => {
    const tx = await engine.begin({ label: "test-not-logged-yet" });
    tx.publish({ aggregatetype: "test", aggregateid: tx.id, type: "test.later", payload: null });
    const deps = { prisma: env.prisma, pool: env.db.pool, shards: new Map(env.shards.map((s) => [s.name, s])), engine: null };
    await expect(forceAbort(deps, { txId: tx.id, operator, reason: "stuck" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(tx.commit()).resolves.toEqual({ id: tx.id, status: "COMMITTED" });
    expect(await outboxRowsOf(tx.id)).toBe(1);
  });

  it("refuses new work once stopped, and aborts what was still active", async () => {
    const stopping = await env.engine();
    const active = await stopping.begin({ label: "test-active-at-stop" });
    await active.run("shard-a", (c) => applyLeg(c, active.id, 22, -1));
    await stopping.stop({ drainMs: 50 });
    await expect(active.commit()).rejects.toMatchObject({
      code: "TX_ABORTED",
      message: expect.stringMatching(/engine stopping/),
    });
    expect((await txRow(active.id)).status).toBe("ABORTED");
    expect(await ledgerRows("shard-a", active.id)).toBe(0);
    await expect(stopping.begin({ label: "too-late" })).rejects.toMatchObject({ code: "ENGINE_STOPPED" });
    await expect(stopping.adopt(active.id, "user:test")).rejects.toMatchObject({ code: "ENGINE_STOPPED" });
  });

  it("validates outbox events and refuses them once the transaction is over", async () => {
    const tx = await engine.begin({ label: "test-publish-limits" });
    const event = { aggregatetype: "a", aggregateid: "x", type: "t", payload: null };
    expect(() => tx.publish({ ...event, type: "x".repeat(256) })).toThrow(/type must be a string of 1-255/);
    expect(() => tx.publish({ ...event, aggregateid: 7 as unknown as string })).toThrow(/aggregateid/);
    // The limit is on the stored size: 30 000 three-byte characters are 90 000 bytes.
    expect(() => tx.publish({ ...event, payload: "\u20ac".repeat(30_000) })).toThrow(/64 KiB/);
    for (let i = 0; i < 1000; i++) tx.publish(event);
    expect(() => tx.publish(event)).toThrow(/at most 1000 events/);
    await tx.abort();
    expect(() => tx.publish(event)).toThrow(expect.objectContaining({ code: "TX_ABORTED" }));
    expect(await outboxRowsOf(tx.id)).toBe(0);
  });

  it("keeps the total balance under concurrent transfers", async () => {
    const before = await totalBalance(env.shards);
    const results: string[] = [];
    const wl = startWorkload(engine, {
      accounts: 100,
      concurrency: 12,
      rate: 0,
      placement: env.placement,
      onResult: (r) => results.push(r.outcome),
    });
    await waitFor(async () => results.length >= 200, 30_000, "200 transfers");
    await wl.stop();
    expect(wl.stats.errors).toBe(0);
    expect(results.filter((r) => r === "committed").length).toBeGreaterThan(150);
    expect(await totalBalance(env.shards)).toEqual(before);
    // End records are written in the background, batched: every one lands shortly after.
    const open = () => env.prisma.transaction.count({ where: { status: { notIn: ["COMMITTED", "ABORTED"] } } });
    await waitFor(async () => (await open()) === 0, 5_000, "every end record");
    expect(await preparedCount()).toBe(0);
  });
});

describe("phase two", () => {
  it("retries with backoff while a shard is unreachable, then finishes", async () => {
    const shardB = new URL(env.shardUrls[1]!.url).pathname.slice(1);
    // Refuse new connections to shard-b once its branch is prepared, like a shard going down.
    const flaky = await env.engine({
      options: { phase2BaseDelayMs: 50, phase2MaxDelayMs: 200 },
      hooks: {
        afterDecision: () =>
          env.admin(`ALTER DATABASE "${shardB}" ALLOW_CONNECTIONS false;
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${shardB}'`),
      },
    });
    const tx = await flaky.begin({ label: "test-phase2-retry" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 12, -3));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 13, 3));
    try {
      const outcome = await tx.commit();
      expect(outcome).toMatchObject({ status: "COMMITTING", pendingShards: ["shard-b"] });
      await waitFor(
        async () => {
          const b = await env.prisma.branch.findUnique({ where: { txId_shard: { txId: tx.id, shard: "shard-b" } } });
          return b && b.attempts >= 2 && b.lastError ? b : null;
        },
        10_000,
        "retries recorded",
      );
      expect((await txRow(tx.id)).status).toBe("COMMITTING");
    } finally {
      await env.admin(`ALTER DATABASE "${shardB}" ALLOW_CONNECTIONS true`);
    }
    await waitFor(async () => (await txRow(tx.id)).status === "COMMITTED", 15_000, "COMMITTED after the shard returns");
    expect(await ledgerRows("shard-b", tx.id)).toBe(1);
    expect(await timeline(tx.id)).toContain("phase2.error@shard-b");
    expect(await preparedCount()).toBe(0);
    await flaky.stop();
  });
});
