// Phase-2 delivery through the queue, end to end on real PostgreSQL shards and Redis:
// a logged decision delivered through a shard outage past the delivery limit (the dead
// letter an alert, delivery going on), a branch whose entry was moved by hand driven again
// by the stale sweep, a dead engine's entries reclaimed by
// another engine's consumer, entries the coordinator log refuses, and Redis lost before or
// after the entries were queued.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../engine/engine";
import type { EngineHooks } from "../engine/types";
import { listInDoubt } from "../ops/inDoubt";
import { applyLeg } from "../sim/transfer";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { phase2Stream, PHASE2_GROUP } from "./phase2Entries";
import { listDeadLetters } from "./queueOps";
import { deadLetterEntry, enqueue, queueKeys } from "./streamQueue";

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 20, placement: "modulo" });
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
  it("keeps delivering a logged decision through a shard outage longer than the delivery limit, with the dead letter as an alert", async () => {
    // A real outage of shard-b: its database refuses connections and its sessions are
    // terminated, right after the branch was prepared and before COMMIT PREPARED reaches it.
    const dbName = decodeURIComponent(new URL(env.shardUrls.find((s) => s.name === "shard-b")!.url).pathname.slice(1));
    let outages = 0;
    const down = async () => {
      outages++;
      await env.admin(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`);
      await env.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${dbName}'`);
    };
    const up = () => env.admin(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);
    const engine = await env.engine({
      options: { ...FAST, phase2MaxDeliveries: 3, reconcileEveryMs: 200 },
      hooks: {
        beforeResolve: async (_tx, shard) => {
          if (shard === "shard-b" && outages === 0) await down();
        },
      },
    });
    try {
      const txId = await commitWithShardBDown(engine, "test-dead-letter");
      // The limit is 3 deliveries 20-100 ms apart: well past it, the branch is marked…
      await waitFor(async () => (await txRow(txId)).branches[1]!.deadLetteredAt, 10_000, "the branch marked dead-lettered");
      expect(await timeline(txId)).toContain("phase2.dead-lettered@shard-b");
      const inDoubt = await listInDoubt(env.prisma, { thresholdMs: 0 });
      expect(inDoubt.find((t) => t.id === txId)?.cause).toBe("phase2-dead-lettered");
      // …but not given up: the entry stays pending (nothing in the dead letters) and keeps
      // being delivered, and the stale sweep (every 200 ms here) does not queue it twice.
      const deliveriesNow = async () => {
        const rows = (await env.redis.xpending(stream(), PHASE2_GROUP, "-", "+", 10)) as [string, string, number, number][];
        return rows[0]?.[3] ?? 0;
      };
      const before = await deliveriesNow();
      await new Promise((r) => setTimeout(r, 1_200));
      expect(await deliveriesNow()).toBeGreaterThan(before);
      expect(before).toBeGreaterThanOrEqual(3);
      expect((await listDeadLetters(env.redis, stream())).total).toBe(0);
      expect((await timeline(txId)).filter((t) => t === "phase2.queued@shard-b")).toHaveLength(1);
      expect((await txRow(txId)).status).toBe("COMMITTING");

      // The shard comes back: the transaction ends COMMITTED without any person.
      await up();
      await waitFor(async () => (await txRow(txId)).status === "COMMITTED", 15_000, "COMMITTED once shard-b is back");
      const done = await txRow(txId);
      expect(done.branches.every((b) => b.status === "COMMITTED" && b.deadLetteredAt === null)).toBe(true);
      expect(await ledgerRows("shard-b", txId)).toBe(1);
      expect(await env.shard("shard-b").isPrepared(txId)).toBe(false);
      expect(await timeline(txId)).toEqual(expect.arrayContaining(["phase2.done@shard-b", "end"]));
      expect(((await env.redis.xpending(stream(), PHASE2_GROUP)) as unknown[])[0]).toBe(0);
    } finally {
      await up();
      await engine.stop();
    }
  });

  it("drives a dead-lettered branch again once nothing retries it (its entry moved by hand)", async () => {
    const down = { b: true };
    const engine = await env.engine({
      options: { ...FAST, phase2MaxDeliveries: 3, reconcileEveryMs: 200 },
      hooks: shardBDownWhile(down),
    });
    const txId = await commitWithShardBDown(engine, "test-dead-letter-moved");
    const [entry] = (await env.redis.xpending(stream(), PHASE2_GROUP, "-", "+", 10)) as [string, string, number, number][];
    expect(entry).toBeDefined();
    // What an operator's "move to the dead letters" does.
    await deadLetterEntry(env.redis, stream(), PHASE2_GROUP, entry![0], {
      error: "moved by hand",
      by: "test",
      deleteFromStream: true,
    });
    await env.prisma.branch.updateMany({ where: { txId, shard: "shard-b" }, data: { deadLetteredAt: new Date() } });
    down.b = false;
    // After the queue's grace (queueReclaimIdleMs, 1 s) the stale sweep delivers it by the log.
    await waitFor(async () => (await txRow(txId)).status === "COMMITTED", 15_000, "COMMITTED by the stale sweep");
    expect(await ledgerRows("shard-b", txId)).toBe(1);
    await engine.stop();
    // The hand move raced the engine's own failing delivery, which may have recorded its error after it.
    await env.redis.del(queueKeys(stream()).dead, queueKeys(stream()).errors);
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
