// tx.lock(): strict two-phase locking through the Redis lock service, deadlock victims,
// and locks released by whoever finishes a transaction (including recovery).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CohortError } from "../errors";
import { LockService } from "../locks/lockService";
import { totalBalance } from "../sim/bankSchema";
import { applyLeg } from "../sim/transfer";
import { startWorkload } from "../sim/workload";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";

let env: TestEnv;
const services: LockService[] = [];
// The engine's namespace (each file has its own on the shared test Redis): an engine refuses locks of another.
const lockService = () => {
  const s = new LockService({ redis: env.redis, host: "test", namespace: env.namespace });
  services.push(s);
  return s;
};

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 100 });
});
afterAll(async () => {
  for (const s of services) await s.close();
  await env?.cleanup();
});

describe("tx.lock", () => {
  it("holds a lock until the outcome reached every branch (strict 2PL)", async () => {
    const engine = await env.engine({ locks: lockService() });
    const order: string[] = [];
    const first = await engine.begin({ label: "lock-a" });
    await first.lock("account:1");
    const second = await engine.begin({ label: "lock-b" });
    const waiting = second.lock("account:1").then(() => order.push("second got it"));
    await new Promise((r) => setTimeout(r, 200));
    order.push("first commits");
    await first.run("shard-a", (c) => applyLeg(c, first.id, 0, -1));
    await first.commit();
    await waiting;
    expect(order).toEqual(["first commits", "second got it"]);
    // Fencing: every later grant of a key carries a larger token.
    expect(BigInt(second.locks.get("account:1")!.token)).toBeGreaterThan(BigInt(first.locks.get("account:1")!.token));
    await second.abort("done");
  });

  it("re-enters a lock it holds, and refuses an upgrade from shared or a lock without a lock service", async () => {
    const engine = await env.engine({ locks: lockService() });
    const tx = await engine.begin({ label: "lock-misuse" });
    const shared = await tx.lock("misuse:1", "shared");
    await expect(tx.lock("misuse:1", "shared")).resolves.toBe(shared);
    await expect(tx.lock("misuse:1", "exclusive")).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/held shared: upgrading to exclusive is not supported/),
    });
    const exclusive = await tx.lock("misuse:2");
    // An exclusive hold covers a shared ask.
    await expect(tx.lock("misuse:2", "shared")).resolves.toBe(exclusive);
    expect([...tx.locks.keys()].sort()).toEqual(["misuse:1", "misuse:2"]);
    // The refused upgrade did not end the transaction.
    await tx.run("shard-a", (c) => c.query("SELECT 1"));
    await tx.abort("done");
    await expect(tx.lock("misuse:3")).rejects.toMatchObject({ code: "TX_ABORTED" });

    const unlocked = await env.engine();
    const plain = await unlocked.begin({ label: "no-lock-service" });
    await expect(plain.lock("misuse:1")).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/no lock service/),
    });
    await plain.abort("done");
    // An engine without a lock service that stayed up could take over another test's
    // transaction and finish it without releasing its locks.
    await unlocked.stop();
    await engine.stop();
  });

  it("aborts the youngest transaction of a deadlock and records it in its timeline", async () => {
    const engine = await env.engine({ locks: lockService(), options: { deadlockCheckMs: 200 } });
    const older = await engine.begin({ label: "deadlock-old", timeoutMs: 20_000 });
    await older.lock("k:A");
    await new Promise((r) => setTimeout(r, 5));
    const younger = await engine.begin({ label: "deadlock-young", timeoutMs: 20_000 });
    await younger.lock("k:B");
    const olderWaits = older.lock("k:B");
    const youngerWaits = younger.lock("k:A").catch((e: unknown) => e);
    const err = await youngerWaits;
    expect(err).toBeInstanceOf(CohortError);
    expect((err as CohortError).code).toBe("DEADLOCK_VICTIM");
    await olderWaits; // granted once the victim's locks are gone
    await older.run("shard-a", (c) => applyLeg(c, older.id, 2, -1));
    await expect(older.commit()).resolves.toMatchObject({ status: "COMMITTED" });
    const victim = await env.prisma.transaction.findUniqueOrThrow({ where: { id: younger.id }, select: { status: true } });
    expect(victim.status).toBe("ABORTED");
    const record = await env.prisma.logRecord.findFirstOrThrow({ where: { txId: younger.id, type: "deadlock.victim" } });
    expect(JSON.stringify(record.data)).toContain("k:A");
  });

  it("resolves a three-transaction cycle", async () => {
    const engine = await env.engine({ locks: lockService(), options: { deadlockCheckMs: 200 } });
    const txs = [];
    for (const k of ["c1", "c2", "c3"]) {
      const tx = await engine.begin({ label: "cycle", timeoutMs: 20_000 });
      await tx.lock(k);
      txs.push(tx);
      await new Promise((r) => setTimeout(r, 5));
    }
    const waits = txs.map((tx, i) =>
      tx.lock(["c2", "c3", "c1"][i]!).then(
        () => "granted",
        (e: CohortError) => e.code,
      ),
    );
    const results = await Promise.all(
      [waits[0], waits[1], waits[2]].map((p, i) =>
        i === 2 ? p : Promise.race([p, new Promise((r) => setTimeout(() => r("pending"), 3_000))]),
      ),
    );
    expect(results[2]).toBe("DEADLOCK_VICTIM"); // the youngest
    expect(results.filter((r) => r === "DEADLOCK_VICTIM")).toHaveLength(1);
    for (const tx of txs.slice(0, 2)) if (tx.status === "active") await tx.abort("test over");
  });

  it("runs the workload with locked, fenced transfers and loses no money", async () => {
    const engine = await env.engine({ locks: lockService() });
    const before = await totalBalance(env.shards);
    let committed = 0;
    const wl = startWorkload(engine, {
      accounts: 40, // few accounts: transfers contend for the same locks
      concurrency: 8,
      rate: 0,
      lockAccounts: true,
      placement: env.placement,
      onResult: (r) => (committed += r.outcome === "committed" ? 1 : 0),
    });
    await waitFor(async () => committed >= 50, 90_000, "50 locked transfers");
    await wl.stop();
    expect(wl.stats.errors).toBe(0);
    expect(await totalBalance(env.shards)).toEqual(before);
    const fenced = await Promise.all(
      env.shards.map((s) => s.query<{ n: string }>("SELECT count(*) AS n FROM accounts WHERE fence > 0")),
    );
    expect(fenced.reduce((n, r) => n + Number(r.rows[0]!.n), 0)).toBeGreaterThan(0);
  }, 120_000);

  it("releases the locks of a transaction that recovery finishes", async () => {
    const locks = lockService();
    const dead = await env.engine({ locks, hooks: { afterDecision: () => new Promise<void>(() => undefined) } });
    const tx = await dead.begin({ label: "lock-recovery" });
    await tx.lock("account:50");
    // Two shards: a one-shard transaction commits in one phase and leaves recovery nothing to finish.
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 50, -1));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 51, 1));
    void tx.commit();
    await waitFor(async () => (await env.prisma.transaction.findUniqueOrThrow({ where: { id: tx.id } })).status === "COMMITTING");
    dead.simulateCrash();
    const survivor = await env.engine({ locks: lockService() });
    await waitFor(
      async () => (await env.prisma.transaction.findUniqueOrThrow({ where: { id: tx.id } })).status === "COMMITTED",
      10_000,
      "recovery",
    );
    const next = await survivor.begin({ label: "after-recovery", timeoutMs: 10_000 });
    // Granted long before the dead holder's lease (timeout + grace) would have run out.
    const started = Date.now();
    await next.lock("account:50");
    expect(Date.now() - started).toBeLessThan(5_000);
    await next.abort("done");
  });
});
