import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatGid } from "../participants/gid";
import { applyLeg } from "../sim/transfer";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import type { Engine } from "./engine";
import type { EngineHooks } from "./types";

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 400, placement: "modulo" });
});
afterAll(async () => env?.cleanup());

const ledgerRows = async (shard: string, txId: string) =>
  Number((await env.shard(shard).query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);
const status = async (id: string) =>
  (await env.prisma.transaction.findUniqueOrThrow({ where: { id }, select: { status: true } })).status;
const prepared = async () => (await Promise.all(env.shards.map((s) => s.listPrepared()))).flat();
const hang = () => new Promise<void>(() => undefined);

/** An engine whose transactions can be frozen at a protocol step, then "killed". */
async function freezableEngine() {
  const freezeAfterPrepare = new Set<string>();
  const freezeAfterDecision = new Set<string>();
  const hooks: EngineHooks = {
    afterPrepare: (id) => (freezeAfterPrepare.has(id) ? hang() : undefined),
    afterDecision: (id) => (freezeAfterDecision.has(id) ? hang() : undefined),
  };
  const engine = await env.engine({ hooks });
  return { engine, freezeAfterPrepare, freezeAfterDecision };
}

async function startTransfer(engine: Engine, a: number, b: number) {
  const tx = await engine.begin({ label: "recovery-test" });
  await tx.run("shard-a", (c) => applyLeg(c, tx.id, a, -1));
  await tx.run("shard-b", (c) => applyLeg(c, tx.id, b, 1));
  return tx;
}

describe("takeover after an instance's lease expires", () => {
  it("aborts undecided transactions and finishes decided ones", async () => {
    const dead = await freezableEngine();
    const undecided = await startTransfer(dead.engine, 0, 1);
    dead.freezeAfterPrepare.add(undecided.id);
    void undecided.commit().catch(() => undefined);
    const decided = await startTransfer(dead.engine, 2, 3);
    dead.freezeAfterDecision.add(decided.id);
    void decided.commit().catch(() => undefined);
    const justBegun = await dead.engine.begin({ label: "recovery-test" });
    await waitFor(
      async () => (await status(undecided.id)) === "PREPARING" && (await status(decided.id)) === "COMMITTING",
      5_000,
      "frozen states",
    );
    await waitFor(async () => (await prepared()).length === 4, 5_000, "four prepared branches");

    const killedAt = Date.now();
    dead.engine.simulateCrash();
    const survivor = await env.engine();
    await waitFor(
      async () => (await status(undecided.id)) === "ABORTED" && (await status(decided.id)) === "COMMITTED",
      10_000,
      "recovery",
    );
    // Nothing is touched while the dead instance's lease (1 s in tests) still runs.
    const takeover = await env.prisma.logRecord.findFirstOrThrow({ where: { txId: decided.id, type: "takeover" } });
    expect(takeover.at.getTime()).toBeGreaterThanOrEqual(killedAt + 500);
    expect(takeover.actor).toBe(`recovery:${survivor.instanceId}`);
    expect(await ledgerRows("shard-a", undecided.id)).toBe(0);
    expect(await ledgerRows("shard-b", undecided.id)).toBe(0);
    expect(await ledgerRows("shard-a", decided.id)).toBe(1);
    expect(await ledgerRows("shard-b", decided.id)).toBe(1);
    expect(await prepared()).toEqual([]);
    // Begin is lazy: a transaction that never reached commit() left nothing to recover.
    expect(await env.prisma.transaction.findUnique({ where: { id: justBegun.id } })).toBeNull();
    await survivor.stop();
  });

  it("lets several live instances split the work without processing a transaction twice", async () => {
    const dead = await freezableEngine();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const tx = await startTransfer(dead.engine, 10 + 2 * i, 11 + 2 * i);
      (i % 2 ? dead.freezeAfterDecision : dead.freezeAfterPrepare).add(tx.id);
      void tx.commit().catch(() => undefined);
      ids.push(tx.id);
    }
    await waitFor(async () => (await prepared()).length === 60, 10_000, "sixty prepared branches");
    dead.engine.simulateCrash();
    const [b, c] = await Promise.all([env.engine(), env.engine()]);
    await waitFor(
      async () =>
        (await env.prisma.transaction.count({ where: { id: { in: ids }, status: { in: ["COMMITTED", "ABORTED"] } } })) ===
        ids.length,
      15_000,
      "all recovered",
    );
    const takeovers = await env.prisma.logRecord.groupBy({
      by: ["txId"],
      where: { txId: { in: ids }, type: "takeover" },
      _count: true,
    });
    expect(takeovers).toHaveLength(ids.length);
    expect(takeovers.every((t) => t._count === 1)).toBe(true);
    const committed = await env.prisma.transaction.count({ where: { id: { in: ids }, status: "COMMITTED" } });
    expect(committed).toBe(15);
    expect(await prepared()).toEqual([]);
    await Promise.all([b.stop(), c.stop()]);
  });
});

describe("reconciliation of prepared transactions", () => {
  it("rolls back orphans, commits logged commits and leaves other systems alone", async () => {
    const orphan = randomUUID();
    const decided = randomUUID();
    const deadInstance = randomUUID();
    // A decided transaction whose coordinator died before phase two reached shard-a.
    await env.prisma.engineInstance.create({
      data: { id: deadInstance, host: "gone", pid: 1, leaseExpiresAt: new Date(Date.now() - 60_000) },
    });
    await env.prisma.transaction.create({
      data: {
        id: decided,
        label: "reconcile-test",
        status: "COMMITTING",
        decision: "COMMIT",
        coordinatorId: deadInstance,
        deadlineAt: new Date(),
      },
    });
    const shardA = env.shard("shard-a");
    const prepare = async (gid: string, txId: string, account: number) => {
      const pg = await import("pg");
      const c = new pg.default.Client({ connectionString: env.shardUrls[0]!.url });
      await c.connect();
      await c.query("BEGIN");
      await c.query("INSERT INTO ledger (tx_id, account, delta) VALUES ($1, $2, 0)", [txId, account]);
      await c.query(`PREPARE TRANSACTION '${gid}'`);
      await c.end();
    };
    await prepare(formatGid(env.namespace, orphan, "shard-a"), orphan, 1);
    await prepare(formatGid(env.namespace, decided, "shard-a"), decided, 2);
    await prepare(`other-system-${orphan}`, orphan, 3);

    const engine = await env.engine();
    const reports = await engine.reconcile();
    expect(await ledgerRows("shard-a", decided)).toBe(1);
    expect(await ledgerRows("shard-a", orphan)).toBe(0);
    const { rows } = await shardA.query<{ gid: string }>("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
    expect(rows.map((r) => r.gid)).toEqual([`other-system-${orphan}`]);
    const records = await env.prisma.logRecord.findMany({
      where: { txId: { in: [orphan, decided] }, type: "reconcile" },
      select: { txId: true, data: true },
    });
    // The start-up pass or this explicit pass resolved each of them exactly once.
    expect(records.map((r) => [r.txId, (r.data as { action: string }).action]).sort()).toEqual(
      [
        [decided, "COMMIT PREPARED"],
        [orphan, "ROLLBACK PREPARED"],
      ].sort(),
    );
    expect(reports.every((r) => r.errors.length === 0)).toBe(true);
    // The orphan's abort is on record before its rollback, so nothing can commit it later.
    expect(await env.prisma.transaction.findUnique({ where: { id: orphan }, select: { status: true, decision: true } })).toEqual({
      status: "ABORTED",
      decision: "ABORT",
    });
    await shardA.resolveGid(`other-system-${orphan}`, false);
    await engine.stop();
  });
});
