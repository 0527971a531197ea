// Two deployments (two coordinator databases, each with its own namespace) on the SAME shard
// databases and the SAME Redis (issue 10, reproduced item 1). Before namespaces, deployment
// B's reconciliation took A's prepared branches for orphans and rolled them back: A's
// application had been told COMMITTED (18 of 474 committed transfers lost in this test).
import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase, type Database } from "../db/prisma";
import { isCohortError } from "../errors";
import { ensureDatabase, withDatabase } from "../infra/databases";
import { decodeEvent, eventsStream } from "../live/events";
import { formatGid, legacyGid } from "../participants/gid";
import { PostgresShard } from "../participants/postgresShard";
import { PHASE2_GROUP, phase2Stream } from "../queues/phase2Entries";
import { totalBalance } from "../sim/bankSchema";
import { transfer } from "../sim/transfer";
import { TEMPLATE_DB } from "../testing/globalSetup";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { DeploymentGuard, redisClaimKey, shardClaim } from "./deploymentGuard";
import { Engine } from "./engine";
import type { EngineHooks, EngineOptions } from "./types";

const ACCOUNTS = 200;
/** Short, so each deployment's reconciliation runs many times while the other's branches are prepared. */
const RACY: Partial<EngineOptions> = { leaseMs: 1_000, heartbeatMs: 100, reconcileEveryMs: 100, phase2BaseDelayMs: 50 };

let env: TestEnv;

/** A deployment of its own: a coordinator database cloned from the template, sharing env's shards and Redis. */
interface Deployment {
  namespace: string;
  /** The coordinator database's name. */
  database: string;
  db: Database;
  lazy: Database;
  redis: Redis;
  shards: PostgresShard[];
  engines: Engine[];
  engine(opts?: { hooks?: EngineHooks; options?: Partial<EngineOptions> }): Engine;
  close(): Promise<void>;
}

const deployments: Deployment[] = [];
const databasesToDrop: string[] = [];

async function deployment(namespace: string, database?: string): Promise<Deployment> {
  const name = database ?? `${namespace.replace(/-/g, "_")}_${randomBytes(3).toString("hex")}_cohort`;
  if (!database) {
    await ensureDatabase(env.serverUrl, name, TEMPLATE_DB);
    databasesToDrop.push(name);
  }
  const url = withDatabase(env.serverUrl, name);
  const db = connectDatabase(url, { poolSize: 8 });
  const lazy = connectDatabase(url, { poolSize: 8, synchronousCommit: false });
  const redis = new Redis(env.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
  redis.on("error", () => undefined);
  const shards = env.shardUrls.map((s) => new PostgresShard({ ...s, namespace, poolSize: 16 }));
  const engines: Engine[] = [];
  const d: Deployment = {
    namespace,
    database: name,
    db,
    lazy,
    redis,
    shards,
    engines,
    engine: (opts = {}) => {
      const engine = new Engine({
        prisma: db.prisma,
        pool: db.pool,
        lazyPool: lazy.pool,
        redis,
        shards,
        ...(opts.hooks ? { hooks: opts.hooks } : {}),
        options: { ...RACY, namespace, ...opts.options },
      });
      engines.push(engine);
      return engine;
    },
    close: async () => {
      for (const e of engines) await e.stop({ drainMs: 1_000 }).catch(() => undefined);
      await Promise.all(shards.map((s) => s.close()));
      await db.close();
      await lazy.close();
      redis.disconnect();
    },
  };
  deployments.push(d);
  return d;
}

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: ACCOUNTS, placement: "modulo" });
});
afterAll(async () => {
  for (const d of deployments) await d.close().catch(() => undefined);
  // Prepared transactions of any namespace this file made, then the databases.
  for (const s of env.shards) {
    const { rows } = await s.query<{ gid: string }>(
      "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'cohort:%'",
    );
    for (const r of rows) await s.resolveGid(r.gid, false).catch(() => undefined);
  }
  await env.redis.del(...deployments.map((d) => redisClaimKey(d.namespace))).catch(() => undefined);
  for (const name of databasesToDrop) await env.admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await env?.cleanup();
});

const legsOf = async (txId: string) => {
  let n = 0;
  for (const s of env.shards) {
    n += Number((await s.query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);
  }
  return n;
};

/** Every transaction of the deployment's log: COMMITTED has both legs on the shards, ABORTED none. */
async function checkLedger(d: Deployment): Promise<{ committed: number; aborted: number; bad: string[] }> {
  const txs = await d.db.prisma.transaction.findMany({
    where: { label: "transfer" },
    select: { id: true, status: true },
  });
  const bad: string[] = [];
  let committed = 0;
  let aborted = 0;
  for (const tx of txs) {
    const legs = await legsOf(tx.id);
    if (tx.status === "COMMITTED") {
      committed++;
      if (legs !== 2) bad.push(`${tx.id}: COMMITTED with ${legs} of 2 legs`);
    } else if (tx.status === "ABORTED") {
      aborted++;
      if (legs !== 0) bad.push(`${tx.id}: ABORTED with ${legs} legs`);
    } else {
      bad.push(`${tx.id}: not terminal (${tx.status})`);
    }
  }
  return { committed, aborted, bad };
}

async function streamTxIds(redis: Redis, stream: string): Promise<Set<string>> {
  const entries = await redis.xrange(stream, "-", "+");
  const ids = new Set<string>();
  for (const [, fields] of entries) {
    const event = decodeEvent(fields);
    if (event?.type === "tx.updated") ids.add(event.id);
  }
  return ids;
}

let a: Deployment;
let b: Deployment;

describe("two deployments sharing shard databases and Redis", () => {
  it("never resolve each other's prepared branches, queues or events", async () => {
    // With a "_", which LIKE would take for any character unless escaped.
    a = await deployment(`a_${randomBytes(3).toString("hex")}`);
    // A namespace A's is a prefix of: gids, LIKE patterns and keys must still keep them apart.
    b = await deployment(`${a.namespace}-b`);
    // Branches stay prepared a while, so the other side's 100 ms reconciliation sees plenty of them.
    const linger: EngineHooks = { afterPrepare: () => new Promise((r) => setTimeout(r, 15)) };
    // Every 7th of A's commits fails its first in-line delivery, so A's phase-2 stream carries work.
    let failures = 0;
    const flaky: EngineHooks = {
      ...linger,
      beforeResolve: (_tx, _shard, commit) => {
        if (commit && ++failures % 7 === 0) throw new Error("injected: shard unreachable for phase two");
      },
    };
    const engineA = a.engine({ hooks: flaky });
    const engineB = b.engine({ hooks: linger });
    await engineA.start();
    await engineB.start();

    const told = new Map<string, string>();
    const run = async (engine: Engine, offset: number, n: number) => {
      for (let i = 0; i < n; i++) {
        const from = (offset + i * 2) % ACCOUNTS;
        const r = await transfer(engine, env.placement, from, (from + 1) % ACCOUNTS, 1);
        told.set(r.id, r.outcome);
      }
    };
    const before = (await totalBalance(env.shards)).total;
    await Promise.all([0, 1, 2, 3].flatMap((w) => [run(engineA, w * 50, 50), run(engineB, w * 50 + 1, 50)]));

    // Phase two of A's failed deliveries drains through A's queue.
    for (const d of [a, b]) {
      await waitFor(
        async () => (await d.db.prisma.transaction.count({ where: { endedAt: null } })) === 0,
        20_000,
        `${d.namespace}: every transaction terminal`,
      );
    }
    // Several more reconciliation passes on both sides, then the books.
    await new Promise((r) => setTimeout(r, 400));
    const idsOf = async (d: Deployment) =>
      new Set((await d.db.prisma.transaction.findMany({ select: { id: true } })).map((t) => t.id));
    const [idsA, idsB] = [await idsOf(a), await idsOf(b)];
    for (const d of [a, b]) {
      const ledger = await checkLedger(d);
      expect(ledger.bad, d.namespace).toEqual([]);
      expect(ledger.committed).toBeGreaterThan(50);
    }
    // What each application was told agrees with its own log and the shards.
    for (const [id, outcome] of told) {
      if (outcome === "committed") expect(await legsOf(id), `${id} was reported committed`).toBe(2);
    }
    expect((await totalBalance(env.shards)).total).toBe(before);

    // No reconcile record, in either log, about the other's transactions (or any orphan at all).
    for (const [d, other] of [
      [a, idsB],
      [b, idsA],
    ] as const) {
      const records = await d.db.prisma.logRecord.findMany({ where: { type: "reconcile" }, select: { txId: true, data: true } });
      expect(records.filter((r) => other.has(r.txId))).toEqual([]);
      expect(records.filter((r) => (r.data as { orphan?: boolean }).orphan)).toEqual([]);
    }

    // Phase-2 queues: A's stream had entries, only A's instance ever consumed them, and B's has none of A's.
    expect(failures).toBeGreaterThan(5);
    const streamA = phase2Stream(a.namespace);
    const infoA = (await env.redis.xinfo("STREAM", streamA)) as unknown[];
    expect(Number(infoA[infoA.indexOf("entries-added") + 1])).toBeGreaterThan(0);
    const consumersA = (await env.redis.xinfo("CONSUMERS", streamA, PHASE2_GROUP)) as unknown[][];
    const consumerNames = consumersA.map((c) => String(c[c.indexOf("name") + 1]));
    expect(consumerNames).toEqual([engineA.instanceId]);
    const streamB = phase2Stream(b.namespace);
    const entriesB = (await env.redis.exists(streamB)) ? await env.redis.xrange(streamB, "-", "+") : [];
    for (const [, fields] of entriesB) expect(idsA.has(fields[fields.indexOf("tx") + 1]!)).toBe(false);

    // Events: each deployment's stream carries its own transactions only.
    const eventsA = await streamTxIds(env.redis, eventsStream(a.namespace));
    const eventsB = await streamTxIds(env.redis, eventsStream(b.namespace));
    expect(eventsA.size).toBeGreaterThan(0);
    expect(eventsB.size).toBeGreaterThan(0);
    expect([...eventsA].filter((id) => !idsA.has(id))).toEqual([]);
    expect([...eventsB].filter((id) => !idsB.has(id))).toEqual([]);
  });

  it("resolves a pre-namespace gid by the namespace cohort only, finishing an upgraded demo's branches", async () => {
    const shardA = env.shard("shard-a");
    const prepareRaw = async (gid: string, txId: string, account: number) => {
      const c = await import("pg").then((pg) => new pg.default.Client({ connectionString: env.shardUrls[0]!.url }));
      await c.connect();
      await c.query("BEGIN");
      await c.query("INSERT INTO ledger (tx_id, account, delta) VALUES ($1, $2, 0)", [txId, account]);
      await c.query(`PREPARE TRANSACTION '${gid}'`);
      await c.end();
    };
    const ledgerRows = async (txId: string) =>
      Number((await shardA.query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);
    const preparedGids = async () =>
      (await shardA.query<{ gid: string }>("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")).rows.map(
        (r) => r.gid,
      );

    // The demo's coordinator database before the upgrade: a transaction decided COMMIT whose
    // (dead) coordinator prepared its branch under the old gid, plus an old orphan.
    const legacy = await deployment("cohort");
    const decided = randomUUID();
    const orphan = randomUUID();
    const dead = randomUUID();
    await legacy.db.pool.query(
      `INSERT INTO engine_instances (id, host, pid, lease_expires_at) VALUES ($1, 'before-the-upgrade', 0, now() - interval '1 min')`,
      [dead],
    );
    await legacy.db.pool.query(
      `INSERT INTO transactions (id, label, status, decision, coordinator_id, deadline_at, decided_at)
       VALUES ($1, 'upgraded', 'COMMITTING', 'COMMIT', $2, now() + interval '1 min', now())`,
      [decided, dead],
    );
    await legacy.db.pool.query(
      `INSERT INTO branches (tx_id, shard, gid, status, vote, prepared_at) VALUES ($1, 'shard-a', $2, 'PREPARED', true, now())`,
      [decided, legacyGid(decided, "shard-a")],
    );
    await prepareRaw(legacyGid(decided, "shard-a"), decided, 3);
    await prepareRaw(legacyGid(orphan, "shard-a"), orphan, 4);
    // Look-alikes under namespaces nobody runs: "cohort-old", and A's with "-" for its "_".
    const stranger = randomUUID();
    await prepareRaw(formatGid("cohort-old", stranger, "shard-a"), stranger, 5);
    const lookAlike = randomUUID();
    await prepareRaw(formatGid(a.namespace.replace("_", "-"), lookAlike, "shard-a"), lookAlike, 6);

    // A and B (still running, reconciling every 100 ms) leave all three alone.
    await a.engines[0]!.reconcile();
    await b.engines[0]!.reconcile();
    await new Promise((r) => setTimeout(r, 300));
    expect(await preparedGids()).toEqual(
      expect.arrayContaining([
        legacyGid(decided, "shard-a"),
        legacyGid(orphan, "shard-a"),
        formatGid("cohort-old", stranger, "shard-a"),
        formatGid(a.namespace.replace("_", "-"), lookAlike, "shard-a"),
      ]),
    );
    expect(await legacy.shards[0]!.listPrepared()).toHaveLength(2);
    expect(await a.shards[0]!.listPrepared()).toEqual([]);

    // The upgraded demo (namespace cohort) takes over its dead coordinator's decided
    // transaction and commits the old gid; reconciliation rolls the old orphan back.
    const engine = legacy.engine();
    await engine.start();
    await waitFor(async () => !(await preparedGids()).includes(legacyGid(orphan, "shard-a")), 5_000, "old orphan rolled back");
    await waitFor(
      async () =>
        (await legacy.db.prisma.transaction.findUniqueOrThrow({ where: { id: decided }, select: { status: true } })).status ===
        "COMMITTED",
      5_000,
      "old decided transaction committed",
    );
    expect(await ledgerRows(decided)).toBe(1);
    expect(await ledgerRows(orphan)).toBe(0);
    expect(await preparedGids()).toEqual(
      expect.arrayContaining([
        formatGid("cohort-old", stranger, "shard-a"),
        formatGid(a.namespace.replace("_", "-"), lookAlike, "shard-a"),
      ]),
    );
    await shardA.resolveGid(formatGid("cohort-old", stranger, "shard-a"), false);
    await shardA.resolveGid(formatGid(a.namespace.replace("_", "-"), lookAlike, "shard-a"), false);
  });

  it("refuses to start a second coordinator database on a namespace another one claimed, claiming nothing", async () => {
    const refusedStart = async (d: Deployment) => {
      const err = await d
        .engine()
        .start()
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(isCohortError(err, "CONFLICT"), String(err)).toBe(true);
      return (err as Error).message;
    };
    const claimOf = async () => ({
      redis: await env.redis.get(redisClaimKey(a.namespace)),
      shards: await Promise.all(env.shards.map((s) => shardClaim(s, a.namespace))),
    });
    // A's engines stop reconciling (each pass re-asserts the Redis claim), so the steps below are A's only moves.
    for (const e of a.engines) await e.stop({ drainMs: 1_000 });
    const claimedByA = await claimOf();
    expect(claimedByA.redis).not.toBeNull();
    expect(claimedByA.shards.every((c) => c !== null)).toBe(true);

    // Same namespace as A, another coordinator database.
    const impostor = await deployment(a.namespace);
    const message = await refusedStart(impostor);
    expect(message).toContain(`COHORT_NAMESPACE "${a.namespace}"`);
    expect(message).toContain("another deployment");
    expect(await claimOf()).toEqual(claimedByA);

    // Redis lost its data: the shards' claims still refuse, and Redis is not claimed by the loser.
    await env.redis.del(redisClaimKey(a.namespace));
    expect(await refusedStart(impostor)).toMatch(/on shard shard-a belongs to another deployment/);
    expect(await env.redis.get(redisClaimKey(a.namespace))).toBeNull();
    // The rightful owner's next start claims Redis again, and so does each of its reconciliations.
    const again = a.engine();
    await again.start();
    const { deploymentId, coordinator } = JSON.parse(claimedByA.redis!) as { deploymentId: string; coordinator: string };
    expect(JSON.parse((await env.redis.get(redisClaimKey(a.namespace)))!)).toMatchObject({ deploymentId, coordinator });
    await env.redis.del(redisClaimKey(a.namespace));
    await again.reconcile();
    expect(JSON.parse((await env.redis.get(redisClaimKey(a.namespace)))!)).toMatchObject({ deploymentId, coordinator });

    // One coordinator database, one namespace: restarting A's under another name is refused too.
    const renamed = await deployment(`${a.namespace}-x`, a.database);
    expect(await refusedStart(renamed)).toMatch(new RegExp(`belongs to namespace "${a.namespace}"`));
  });

  it("leaves a shard it cannot ask unclaimed at start, and refuses a later claim another deployment beat it to", async () => {
    const z = await deployment(`z_${randomBytes(3).toString("hex")}`);
    const unreachable = new PostgresShard({
      name: "shard-z",
      url: "postgresql://nobody@127.0.0.1:1/nowhere",
      namespace: z.namespace,
      controlPoolSize: 1,
    });
    try {
      const guard = new DeploymentGuard({ pool: z.db.pool, redis: z.redis, namespace: z.namespace });
      const { unclaimed } = await guard.claimAll([z.shards[0]!, unreachable]);
      expect(unclaimed.map((u) => u.shard)).toEqual(["shard-z"]);
      expect(await shardClaim(env.shard("shard-a"), z.namespace)).not.toBeNull();
      await expect(guard.ensureShard(unreachable)).rejects.toThrow();
      // Another coordinator database claimed shard-b meanwhile (engine.reconcile claims each
      // shard this way before judging its prepared transactions): that shard's turn refuses.
      const other = await deployment(z.namespace);
      await new DeploymentGuard({ pool: other.db.pool, redis: other.redis, namespace: z.namespace }).ensureShard(
        other.shards[1]!,
      );
      const refusal = await guard.ensureShard(z.shards[1]!).catch((e: unknown) => e);
      expect(isCohortError(refusal, "CONFLICT"), String(refusal)).toBe(true);
    } finally {
      await unreachable.close();
    }
  });
});
