// What commit() tells the application when something fails at or past the commit point:
// the logged truth (COMMITTED, an abort, or OUTCOME_PENDING), never a guess (DESIGN.md §2,
// "ambiguous means re-read"). Each case injects a real fault: a statement that runs on the
// server while its reply is lost, a coordinator database that refuses connections, a shard
// that never answers, an operator racing the coordinator.
import { randomUUID } from "node:crypto";
import net from "node:net";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { forceAbort, forceCommit } from "../ops/actions";
import { PostgresShard } from "../participants/postgresShard";
import { applyLeg } from "../sim/transfer";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { endpointOf, proxiedUrl, startFaultProxy } from "../testing/faultProxy";
import { waitFor } from "../testing/waitFor";
import { Engine } from "./engine";
import type { EngineOptions } from "./types";

let env: TestEnv;
let engine: Engine;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 100, placement: "modulo" });
  engine = await env.engine();
});
afterAll(async () => env?.cleanup());

const ledgerRows = async (shard: string, txId: string) =>
  Number((await env.shard(shard).query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);
const preparedOf = async (txId: string) =>
  (await Promise.all(env.shards.map((s) => s.listPrepared()))).flat().filter((p) => p.gid.includes(txId)).length;
const logged = (id: string) =>
  env.prisma.transaction.findUniqueOrThrow({ where: { id }, select: { status: true, decision: true } });
const dbName = () => new URL(env.databaseUrl).pathname.slice(1);

/**
 * The next statement named `name` on `pool` runs on the server (when `run`) but its caller
 * hears "Connection terminated unexpectedly", as when the network drops the reply.
 */
function loseReply(pool: pg.Pool, name: string, opts: { run: boolean }): void {
  const original = pool.query.bind(pool) as (q: unknown, v?: unknown) => Promise<unknown>;
  const spy = vi.spyOn(pool, "query").mockImplementation(((q: unknown, v?: unknown) => {
    if (q && typeof q === "object" && (q as { name?: string }).name === name) {
      spy.mockRestore();
      const ran = opts.run ? original(q) : Promise.resolve();
      return ran.then(() => {
        throw new Error("Connection terminated unexpectedly");
      });
    }
    return original(q, v);
  }) as unknown as typeof pool.query);
}

async function twoLegs(e: Engine, label: string, accounts: [number, number]) {
  const tx = await e.begin({ label });
  await tx.run("shard-a", (c) => applyLeg(c, tx.id, accounts[0], -1));
  await tx.run("shard-b", (c) => applyLeg(c, tx.id, accounts[1], 1));
  return tx;
}

describe("commit() after a failure at or past the commit point", () => {
  it("reports COMMITTED when the COMMIT decision was written but its reply was lost", async () => {
    const tx = await twoLegs(engine, "lost-decision-reply", [0, 1]);
    loseReply(env.db.pool, "cohort.decide-commit", { run: true });
    await expect(tx.commit()).resolves.toMatchObject({ id: tx.id, status: "COMMITTED" });
    // The end record follows in the background.
    await waitFor(async () => (await logged(tx.id)).status === "COMMITTED", 5_000, "the end record");
    expect(await logged(tx.id)).toEqual({ status: "COMMITTED", decision: "COMMIT" });
    expect([await ledgerRows("shard-a", tx.id), await ledgerRows("shard-b", tx.id)]).toEqual([1, 1]);
    expect(await engine.outcome(tx.id)).toEqual({ id: tx.id, status: "COMMITTED", decision: "COMMIT" });
    // No record: presumed abort, it never committed.
    expect(await engine.outcome(randomUUID())).toBeNull();
  });

  it("reports TX_ABORTED, and rolls back, when the COMMIT decision never reached the log", async () => {
    const tx = await twoLegs(engine, "decision-never-written", [2, 3]);
    loseReply(env.db.pool, "cohort.decide-commit", { run: false });
    await expect(tx.commit()).rejects.toMatchObject({ code: "TX_ABORTED" });
    await waitFor(async () => (await logged(tx.id)).status === "ABORTED", 10_000, "the abort to end");
    expect(await logged(tx.id)).toEqual({ status: "ABORTED", decision: "ABORT" });
    expect(await preparedOf(tx.id)).toBe(0);
    expect([await ledgerRows("shard-a", tx.id), await ledgerRows("shard-b", tx.id)]).toEqual([0, 0]);
  });

  it("never reports an abort when the end record is lost after the decision", async () => {
    const sweeping = await env.engine({ options: { reconcileEveryMs: 200 } });
    const tx = await twoLegs(sweeping, "lost-end-record", [4, 5]);
    loseReply(env.lazyDb.pool, "cohort.end-commit", { run: false });
    const outcome = await tx.commit();
    expect(["COMMITTED", "COMMITTING"]).toContain(outcome.status);
    // The stale sweep writes the end record the lost reply took with it.
    await waitFor(async () => (await logged(tx.id)).status === "COMMITTED", 15_000, "the end record");
    expect([await ledgerRows("shard-a", tx.id), await ledgerRows("shard-b", tx.id)]).toEqual([1, 1]);
    await sweeping.stop();
  });

  it("reports OUTCOME_PENDING while the coordinator database is gone, and the log settles it later", async () => {
    let prepared = 0;
    const db = dbName();
    const cut = await env.engine({
      hooks: {
        afterPrepare: async () => {
          if (++prepared < 2) return;
          // Both branches are prepared: the coordinator database goes away before the decision.
          await env.admin(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
          await env.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}'`);
        },
      },
    });
    const tx = await twoLegs(cut, "log-gone", [6, 7]);
    try {
      await expect(tx.commit()).rejects.toMatchObject({ code: "OUTCOME_PENDING", details: { id: tx.id } });
    } finally {
      await env.admin(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`);
    }
    // Whatever the log settles on, the shards follow it.
    await waitFor(async () => ["COMMITTED", "ABORTED"].includes((await logged(tx.id)).status), 30_000, "an outcome");
    await waitFor(async () => (await preparedOf(tx.id)) === 0, 30_000, "no prepared branch left");
    const row = await logged(tx.id);
    const legs = (await ledgerRows("shard-a", tx.id)) + (await ledgerRows("shard-b", tx.id));
    expect(legs).toBe(row.status === "COMMITTED" ? 2 : 0);
    expect(await cut.outcome(tx.id)).toMatchObject({ id: tx.id, status: row.status });
    await cut.stop();
  });

  it("reports the commit when an operator's force-commit wins the race for the decision", async () => {
    let prepared = 0;
    let forced: Promise<unknown> | null = null;
    const racing = await env.engine({
      hooks: {
        afterPrepare: async (txId) => {
          if (++prepared < 2) return;
          forced = forceCommit(
            { prisma: env.prisma, pool: env.db.pool, shards: new Map(env.shards.map((s) => [s.name, s])), engine: null },
            { txId, operator: { id: "00000000-0000-0000-0000-000000000001", name: "racer" }, reason: "coordinator looks stuck" },
          );
          await forced;
        },
      },
    });
    const tx = await twoLegs(racing, "force-commit-race", [8, 9]);
    const outcome = await tx.commit();
    expect(forced).not.toBeNull();
    expect(["COMMITTED", "COMMITTING"]).toContain(outcome.status);
    await waitFor(async () => (await logged(tx.id)).status === "COMMITTED", 15_000, "phase two by the adopting engine");
    expect([await ledgerRows("shard-a", tx.id), await ledgerRows("shard-b", tx.id)]).toEqual([1, 1]);
    await racing.stop();
  });

  it("rolls back at once a branch whose PREPARE succeeded but whose reply was lost", async () => {
    const shardB = env.shard("shard-b");
    const prepare = shardB.prepare.bind(shardB);
    const spy = vi.spyOn(shardB, "prepare").mockImplementationOnce(async (client, txId) => {
      await prepare(client, txId);
      return { ok: false, error: new Error("Connection terminated unexpectedly") };
    });
    try {
      const tx = await twoLegs(engine, "lost-prepare-reply", [10, 11]);
      await expect(tx.commit()).rejects.toMatchObject({ code: "VOTED_NO" });
      // Not left for the next reconciliation pass (15 s away), with its row locks held.
      expect(await preparedOf(tx.id)).toBe(0);
      expect(await logged(tx.id)).toMatchObject({ decision: "ABORT" });
    } finally {
      spy.mockRestore();
    }
  });
});

describe("a one-phase commit whose reply is lost", () => {
  /** The next one-phase COMMIT on `shard` runs, its reply is lost, and the shard cannot be asked (settleOnePhase says unknown once). */
  function loseCommitReplyAndShard(shard: PostgresShard): void {
    const commitOnePhase = shard.commitOnePhase.bind(shard);
    vi.spyOn(shard, "commitOnePhase").mockImplementationOnce(async (client, txId) => {
      const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
      vi.spyOn(client, "query").mockImplementationOnce((async (...args: unknown[]) => {
        await query(...args);
        throw new Error("Connection terminated unexpectedly");
      }) as never);
      vi.spyOn(shard, "settleOnePhase").mockResolvedValueOnce("unknown");
      return commitOnePhase(client, txId);
    });
  }

  it("answers OUTCOME_PENDING, logs it in doubt where no operator may decide it, and recovery learns the outcome from the shard", async () => {
    const sweeping = await env.engine({ options: { reconcileEveryMs: 200 } });
    const shardA = env.shard("shard-a");
    loseCommitReplyAndShard(shardA);
    const tx = await sweeping.begin({ label: "one-phase-in-doubt" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 40, 2));
    try {
      await expect(tx.commit()).rejects.toMatchObject({ code: "OUTCOME_PENDING", details: { id: tx.id } });
    } finally {
      vi.restoreAllMocks();
    }
    // The COMMIT did take effect on the shard; the log does not know yet.
    expect(await ledgerRows("shard-a", tx.id)).toBe(1);
    const row = await env.prisma.transaction.findUnique({ where: { id: tx.id } });
    // (the stale sweep may already have settled it; if not, no operator may decide it meanwhile)
    if (row?.status === "PREPARING") {
      expect(row.onePhase).toBe(true);
      const deps = { prisma: env.prisma, pool: env.db.pool, shards: new Map(env.shards.map((s) => [s.name, s])), engine: null };
      const operator = { id: "00000000-0000-0000-0000-000000000001", name: "test-operator" };
      await expect(forceAbort(deps, { txId: tx.id, operator, reason: "stuck" })).rejects.toMatchObject({
        code: "DECISION_CONFLICT",
        message: expect.stringMatching(/one-phase/),
      });
      await expect(forceCommit(deps, { txId: tx.id, operator, reason: "stuck" })).rejects.toMatchObject({
        code: "DECISION_CONFLICT",
      });
    }
    // The stale sweep asks the shard about the logged transaction id and writes what it says.
    await waitFor(async () => (await logged(tx.id)).status === "COMMITTED", 15_000, "the sweep to settle it");
    expect(await sweeping.outcome(tx.id)).toEqual({ id: tx.id, status: "COMMITTED", decision: "COMMIT" });
    const records = await env.prisma.logRecord.findMany({ where: { txId: tx.id }, orderBy: { id: "asc" } });
    // (the refused operator attempts are audited in the timeline too)
    expect(records.map((r) => r.type).filter((t) => t.startsWith("one-phase"))).toEqual([
      "one-phase.in-doubt",
      "one-phase.settled",
    ]);
    await sweeping.stop();
  }, 30_000);
});

describe("engine liveness under faults", () => {
  /** An engine on this file's shards plus `extra`, a shard that is down or mute. */
  const engineWith = (extra: PostgresShard, options: Partial<EngineOptions>) =>
    new Engine({
      prisma: env.prisma,
      pool: env.db.pool,
      lazyPool: env.lazyDb.pool,
      redis: env.redis,
      shards: [...env.shards, extra],
      options: { leaseMs: 1_000, heartbeatMs: 200, namespace: env.namespace, ...options },
    });

  it("starts with a shard down and commits on the shards it can reach", async () => {
    const down = new PostgresShard({ name: "shard-z", url: "postgresql://nobody@127.0.0.1:1/none", namespace: env.namespace });
    const e = engineWith(down, {});
    try {
      await e.start();
      const tx = await twoLegs(e, "shard-z-down", [12, 13]);
      await expect(tx.commit()).resolves.toMatchObject({ status: "COMMITTED" });
    } finally {
      await e.stop();
      await down.close();
    }
  });

  it("keeps its lease while a shard stops answering", async () => {
    // A peer that accepts connections and never says a word: a black-holed network.
    const silent: net.Socket[] = [];
    const server = net.createServer((socket) => silent.push(socket));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const mute = new PostgresShard({
      name: "shard-m",
      url: `postgresql://nobody@127.0.0.1:${port}/none`,
      namespace: env.namespace,
    });
    const e = engineWith(mute, { reconcileEveryMs: 100 });
    try {
      await e.start();
      // Reconciliation now waits on the mute shard again and again; the lease must not lapse.
      const deadline = Date.now() + 4_000;
      while (Date.now() < deadline) {
        const [row] = await env.prisma.$queryRaw<{ live: boolean }[]>`
          SELECT lease_expires_at > now() AS live FROM engine_instances WHERE id = ${e.instanceId}::uuid`;
        expect(row?.live).toBe(true);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await e.stop({ drainMs: 100 });
      await mute.close().catch(() => undefined);
      for (const s of silent) s.destroy();
      server.close();
    }
  }, 60_000);
});

describe("heuristic incidents", () => {
  const incidents = async (txId: string) =>
    (await env.prisma.logRecord.findMany({ where: { txId, type: "incident.heuristic" }, select: { shard: true } })).map(
      (r) => r.shard,
    );

  it("records one when a shard resolved a prepared branch outside Cohort", async () => {
    const meddling = await env.engine({
      hooks: {
        afterDecision: async (txId) => {
          // A DBA rolls the prepared branch back by hand while the COMMIT is on its way.
          const [p] = (await env.shard("shard-b").listPrepared()).filter((x) => x.gid.includes(txId));
          await env.shard("shard-b").resolveGid(p!.gid, false);
        },
      },
    });
    const tx = await twoLegs(meddling, "heuristic-by-hand", [20, 21]);
    await tx.commit();
    expect(await incidents(tx.id)).toEqual(["shard-b"]);
    await meddling.stop();
  });

  it("records none when a stalled coordinator finds its branches finished by its successor", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const zombie = await env.engine({
      hooks: {
        afterDecision: async () => {
          reached();
          await gate;
        },
      },
    });
    const tx = await twoLegs(zombie, "zombie-coordinator", [22, 23]);
    const committing = tx.commit();
    await atGate;
    zombie.simulateCrash(); // paused: no heartbeat, its lease runs out, a live engine takes over
    await waitFor(async () => (await logged(tx.id)).status === "COMMITTED", 15_000, "the successor's phase two");
    release();
    await expect(committing).resolves.toMatchObject({ id: tx.id });
    expect(await incidents(tx.id)).toEqual([]);
  });
});

describe("a shard that stops answering mid-transaction", () => {
  it("ends the transaction at its deadline instead of waiting on the silent branch forever", async () => {
    const b = env.shardUrls.find((s) => s.name === "shard-b")!;
    const proxy = await startFaultProxy({ target: endpointOf(b.url), protocol: "postgres", name: "shard-b" });
    const viaProxy = new PostgresShard({ name: "shard-b", url: proxiedUrl(b.url, proxy.port), namespace: env.namespace });
    const e = new Engine({
      prisma: env.prisma,
      pool: env.db.pool,
      lazyPool: env.lazyDb.pool,
      redis: env.redis,
      shards: [env.shard("shard-a"), viaProxy],
      options: { leaseMs: 1_000, heartbeatMs: 200, namespace: env.namespace },
    });
    try {
      await e.start();
      const tx = await e.begin({ label: "silent-shard", timeoutMs: 2_000 });
      await tx.run("shard-a", (c) => applyLeg(c, tx.id, 30, -1));
      await tx.run("shard-b", (c) => applyLeg(c, tx.id, 31, 1));
      proxy.partition(); // packets are swallowed: no error will ever arrive
      const started = Date.now();
      const stuck = tx.run("shard-b", (c) => c.query("SELECT 1")).catch((err: unknown) => err);
      await waitFor(async () => (await logged(tx.id)).status === "ABORTED", 15_000, "the deadline's abort");
      expect(await stuck).toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(12_000);
      expect(await ledgerRows("shard-a", tx.id)).toBe(0);
    } finally {
      proxy.heal({ reset: true });
      await e.stop({ drainMs: 100 });
      await viaProxy.close().catch(() => undefined);
      await proxy.close();
    }
  }, 60_000);
});
