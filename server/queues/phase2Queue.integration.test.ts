// Phase-2 delivery through the queue, end to end on real PostgreSQL shards and Redis:
// dead-lettering after the delivery limit (and the recovery sweeps leaving it alone), the
// operator's requeue finishing the transaction, a dead engine's entries reclaimed by
// another engine's consumer, entries the coordinator log refuses, and Redis lost before or
// after the entries were queued.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../engine/engine";
import type { EngineHooks } from "../engine/types";
import { listInDoubt } from "../ops/inDoubt";
import { requeueDeadLetter, type QueueOpsDeps } from "../ops/queues";
import { applyLeg } from "../sim/transfer";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { phase2Stream, PHASE2_GROUP } from "./phase2Entries";
import { listDeadLetters } from "./queueOps";
import { enqueue, queueKeys } from "./streamQueue";

let env: TestEnv;
let deps: QueueOpsDeps;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 20, placement: "modulo" });
  deps = { prisma: env.prisma, redis: env.redis, namespace: env.namespace, reclaimIdleMs: 1_000, rabbit: null };
});
afterAll(async () => env?.cleanup());

const stream = () => phase2Stream(env.namespace);
const txRow = (id: string) =>
  env.prisma.transaction.findUniqueOrThrow({ where: { id }, select: { status: true, branches: { orderBy: { shard: "asc" } } } });
const timeline = async (id: string) =>
  (await env.prisma.logRecord.findMany({ where: { txId: id }, orderBy: { id: "asc" }, select: { type: true, shard: true } })).map(
    (r) => (r.shard ? `${r.type}@${r.shard}` : r.type),
  );
const ledgerRows = async (shard: string, txId: string) =>
  Number((await env.shard(shard).query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);

/** Quick phase-2 retries, and a reclaim threshold above the longest of them. */
const FAST = { phase2BaseDelayMs: 20, phase2MaxDelayMs: 100, queueReclaimIdleMs: 1_000 };

/** Phase two cannot reach shard-b while `down.b` is set. */
const shardBDownWhile = (down: { b: boolean }): EngineHooks => ({
  beforeResolve: (_tx, shard) => {
    if (shard === "shard-b" && down.b) throw new Error("shard-b unreachable (test)");
  },
});

/** A committed transfer between account 0 (shard-a) and 1 (shard-b) whose shard-b delivery fails while `down.b` is set. */
async function commitWithShardBDown(engine: Engine, label: string): Promise<string> {
  const tx = await engine.begin({ label });
  await tx.run("shard-a", (c) => applyLeg(c, tx.id, 0, -1));
  await tx.run("shard-b", (c) => applyLeg(c, tx.id, 1, 1));
  const outcome = await tx.commit();
  expect(outcome).toMatchObject({ status: "COMMITTING", pendingShards: ["shard-b"] });
  return tx.id;
}

describe("phase-2 queue", () => {
  it("dead-letters a branch after the delivery limit, leaves it to a person, and a requeue finishes it", async () => {
    const down = { b: true };
    const engine = await env.engine({
      options: {
        ...FAST,
        phase2MaxDeliveries: 3,
        reconcileEveryMs: 200,
      },
      hooks: shardBDownWhile(down),
    });
    const txId = await commitWithShardBDown(engine, "test-dead-letter");

    const dead = await waitFor(
      async () => {
        const d = await listDeadLetters(env.redis, stream());
        return d.total === 1 ? d.entries[0]! : null;
      },
      15_000,
      "the entry to be dead-lettered",
    );
    expect(dead.fields).toMatchObject({ tx: txId, shard: "shard-b", decision: "COMMIT" });
    expect(dead.deliveries).toBe(3);
    expect(dead.by).toBe("queue");
    expect(dead.error).toContain("shard-b unreachable");
    expect(((await env.redis.xpending(stream(), PHASE2_GROUP)) as unknown[])[0]).toBe(0);

    await waitFor(async () => (await txRow(txId)).branches[1]!.deadLetteredAt, 5_000, "the branch marked dead-lettered");
    const row = await txRow(txId);
    expect(row.status).toBe("COMMITTING");
    expect(row.branches.map((b) => b.status)).toEqual(["COMMITTED", "PREPARED"]);
    expect(await timeline(txId)).toContain("phase2.dead-lettered@shard-b");
    const inDoubt = await listInDoubt(env.prisma, { thresholdMs: 0 });
    const listed = inDoubt.find((t) => t.id === txId);
    expect(listed?.cause).toBe("phase2-dead-lettered");
    expect(listed?.why).toContain("shard-b");

    // The stale sweep runs every 200 ms here: it must not queue the dead-lettered branch again.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await env.redis.xlen(stream())).toBe(0);
    expect((await timeline(txId)).filter((t) => t === "phase2.queued@shard-b")).toHaveLength(1);

    down.b = false;
    const operator = { id: "00000000-0000-0000-0000-000000000001", name: "test-operator" };
    await requeueDeadLetter(deps, { stream: stream(), deadId: dead.id, operator, reason: "shard-b is back" });
    await waitFor(async () => (await txRow(txId)).status === "COMMITTED", 10_000, "COMMITTED after the requeue");
    const done = await txRow(txId);
    expect(done.branches.every((b) => b.status === "COMMITTED" && b.deadLetteredAt === null)).toBe(true);
    expect(await ledgerRows("shard-b", txId)).toBe(1);
    expect((await listDeadLetters(env.redis, stream())).total).toBe(0);
    expect(await timeline(txId)).toEqual(expect.arrayContaining(["phase2.requeued@shard-b", "phase2.done@shard-b", "end"]));
    expect(await env.shard("shard-b").isPrepared(txId)).toBe(false);
    await engine.stop();
  });

  it("reclaims the pending entries of a dead engine's consumer with another engine (XAUTOCLAIM)", async () => {
    // Shard-b stays unreachable for the crashed engine: a delivery its queue had already
    // started when it "crashed" must not succeed there, as it could not in a dead process.
    const down = { b: true };
    // A long lease: the crashed engine still "owns" the transaction, so no takeover finishes
    // it: only the queue can, through the reclaim.
    const crashed = await env.engine({
      options: {
        leaseMs: 60_000,
        ...FAST,
        phase2MaxDeliveries: 1_000,
      },
      hooks: shardBDownWhile(down),
    });
    const txId = await commitWithShardBDown(crashed, "test-reclaim");
    await waitFor(
      async () => {
        const [n, , , consumers] = (await env.redis.xpending(stream(), PHASE2_GROUP)) as [
          number,
          string,
          string,
          [string, string][],
        ];
        return n === 1 && consumers?.[0]?.[0] === crashed.instanceId;
      },
      5_000,
      "the entry pending under the first engine",
    );
    crashed.simulateCrash();

    const rescuer = await env.engine({ options: FAST });
    await waitFor(async () => (await txRow(txId)).status === "COMMITTED", 15_000, "COMMITTED by the other engine's consumer");
    expect(await ledgerRows("shard-b", txId)).toBe(1);
    const records = await env.prisma.logRecord.findMany({ where: { txId, type: "phase2.done", shard: "shard-b" } });
    expect(records).toHaveLength(1);
    expect(records[0]!.actor).toBe(`engine:${rescuer.instanceId}`);
    expect(records[0]!.data).toMatchObject({ via: "queue" });
    expect(((await env.redis.xpending(stream(), PHASE2_GROUP)) as unknown[])[0]).toBe(0);
    expect(await env.redis.hlen(queueKeys(stream()).errors)).toBe(0);
    await rescuer.stop();
  });

  it("drives a transaction again from the log when Redis loses its queue entry", async () => {
    const down = { b: true };
    const engine = await env.engine({
      options: {
        ...FAST,
        phase2MaxDeliveries: 1_000,
        reconcileEveryMs: 200,
      },
      hooks: shardBDownWhile(down),
    });
    const txId = await commitWithShardBDown(engine, "test-lost-entry");
    await waitFor(async () => (await env.redis.xlen(stream())) === 1, 5_000, "the entry queued");
    // A Redis restart without persistence: the stream and its group are gone.
    await env.redis.del(stream(), queueKeys(stream()).errors);
    down.b = false;
    // Nothing in Redis will deliver it now; the stale sweep notices the retries stopped and drives it by the log.
    await waitFor(async () => (await txRow(txId)).status === "COMMITTED", 15_000, "COMMITTED by the stale sweep");
    expect(await ledgerRows("shard-b", txId)).toBe(1);
    expect(await env.shard("shard-b").isPrepared(txId)).toBe(false);
    await engine.stop();
  });

  it("dead-letters entries the coordinator log refuses, and rolls back an unknown transaction's branch", async () => {
    const down = { b: true };
    const engine = await env.engine({
      options: { ...FAST, phase2MaxDeliveries: 1_000 },
      hooks: shardBDownWhile(down),
    });
    const committing = await commitWithShardBDown(engine, "test-refused-entries");
    const unknown = randomUUID();
    // A branch prepared for a transaction the log never heard of.
    const orphan = randomUUID();
    const c = new pg.Client({ connectionString: env.shardUrls[0]!.url });
    await c.connect();
    await c.query("BEGIN");
    await c.query("INSERT INTO ledger (tx_id, account, delta) VALUES ($1, 2, 0)", [orphan]);
    await c.query(`PREPARE TRANSACTION 'cohort:${orphan}:shard-a'`);
    await c.end();

    await enqueue(env.redis, stream(), { hello: "world" });
    await enqueue(env.redis, stream(), { tx: committing, shard: "shard-b", decision: "ABORT", label: "forged" });
    await enqueue(env.redis, stream(), { tx: unknown, shard: "shard-a", decision: "COMMIT", label: "forged" });
    await enqueue(env.redis, stream(), { tx: orphan, shard: "shard-a", decision: "ABORT", label: "forged" });

    const dead = await waitFor(
      async () => {
        const d = await listDeadLetters(env.redis, stream());
        return d.total === 3 ? d.entries : null;
      },
      10_000,
      "three dead letters",
    );
    const errorOf = (match: (f: Record<string, string>) => boolean) => dead.find((d) => match(d.fields))?.error;
    expect(errorOf((f) => f.hello === "world")).toMatch(/not a phase-2 entry/);
    expect(errorOf((f) => f.tx === committing)).toMatch(/entry says ABORT but the coordinator log says COMMIT/);
    expect(errorOf((f) => f.tx === unknown)).toMatch(/no record in the coordinator log: refusing to commit/);
    expect(dead.every((d) => d.deliveries === 1)).toBe(true);
    // Presumed abort: the unknown transaction's branch is rolled back, and that entry is done with.
    await waitFor(
      async () => (await env.shard("shard-a").listPrepared()).every((p) => !p.gid.includes(orphan)),
      5_000,
      "rolled back",
    );
    expect(await ledgerRows("shard-a", orphan)).toBe(0);
    // The forged ABORT changed nothing: the logged COMMIT still reaches shard-b once it is back.
    expect(await env.shard("shard-b").isPrepared(committing)).toBe(true);
    expect((await txRow(committing)).status).toBe("COMMITTING");
    down.b = false;
    await waitFor(async () => (await txRow(committing)).status === "COMMITTED", 10_000, "COMMITTED");
    expect(await ledgerRows("shard-b", committing)).toBe(1);
    await engine.stop();
  });

  it("drives a commit from the log when its phase-2 entry could not be queued (Redis unreachable)", async () => {
    const down = { b: true };
    const logs: string[] = [];
    // An engine on a connection of its own, which Redis drops after the engine started.
    const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    const engine = new Engine({
      prisma: env.prisma,
      pool: env.db.pool,
      lazyPool: env.lazyDb.pool,
      redis,
      shards: env.shards,
      log: (line) => logs.push(line),
      hooks: shardBDownWhile(down),
      options: {
        leaseMs: 1_000,
        heartbeatMs: 200,
        namespace: env.namespace,
        ...FAST,
        reconcileEveryMs: 200,
      },
    });
    await engine.start();
    try {
      redis.disconnect();
      const txId = await commitWithShardBDown(engine, "test-redis-down");
      expect(logs.some((l) => l.startsWith(`queueing phase two of ${txId}:`))).toBe(true);
      expect(await timeline(txId)).not.toContain("phase2.queued@shard-b");
      expect((await txRow(txId)).branches[1]).toMatchObject({
        status: "PREPARED",
        lastError: expect.stringContaining("shard-b"),
      });
      down.b = false;
      // Nothing in Redis will deliver it; once its retry time is stale the sweep drives it by the log.
      await waitFor(async () => (await txRow(txId)).status === "COMMITTED", 15_000, "COMMITTED by the stale sweep");
      expect(await ledgerRows("shard-b", txId)).toBe(1);
      expect(await env.shard("shard-b").isPrepared(txId)).toBe(false);
    } finally {
      await engine.stop();
    }
  });
});
