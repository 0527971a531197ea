// The console's lock operations against real PostgreSQL, shards and Redis: listing and
// detail, the wait-for graph, and the guards of the operator release (DESIGN.md §3): a
// stale token is refused, a holder whose prepared branch holds its rows is refused with a
// pointer to the transaction, and every attempt lands in the audit trail. The routes are
// driven through the real api() wrapper for roles and problem+json.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lockRoute from "@/app/api/locks/[key]/route";
import * as releaseRoute from "@/app/api/locks/release/route";
import * as locksRoute from "@/app/api/locks/route";
import { encodeLockKey } from "@/server/locks/lockKeyInUrl";
import { listAudit } from "../audit/audit";
import { CohortError } from "../errors";
import { compareTokens } from "../locks/fencing";
import { lockTestKit, type LockTestKit } from "../locks/lockTestKit";
import type { LockService } from "../locks/lockService";
import { getRuntime, setRuntime } from "../runtime";
import { callRoute, createTestSession, json, useTestRuntime, type TestSession } from "../testing/apiTestKit";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { forceAbort } from "./actions";
import { lockDetail, lockGraph, listLocks, locksHeldBy, releaseLock, type LockOpsDeps } from "./locks";

let env: TestEnv;
let kit: LockTestKit;
let locks: LockService;
let deps: LockOpsDeps;
let operatorSession: TestSession;
let viewerSession: TestSession;
const operator = { id: "00000000-0000-0000-0000-000000000001", name: "alice" };

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 10 });
  kit = lockTestKit({ redisUrl: env.redisUrl });
  locks = kit.service({ indexDelayMs: 0 });
  deps = { prisma: env.prisma, locks, redis: kit.redis, shards: new Map(env.shards.map((s) => [s.name, s])) };
  useTestRuntime(env);
  setRuntime({ ...getRuntime(), locks });
  operatorSession = await createTestSession(env, "operator");
  viewerSession = await createTestSession(env, "viewer");
});
afterAll(async () => {
  await kit?.cleanup();
  await env?.cleanup();
});

const rejection = async (p: Promise<unknown>): Promise<CohortError> => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (err instanceof CohortError) return err;
  throw new Error(`expected a CohortError, got ${String(err)}`);
};

const auditOf = async (key: string) => (await listAudit(env.prisma, { targetType: "lock", targetId: key })).entries;

/** A transaction stuck the way a hung coordinator leaves it: both branches prepared, no decision. */
async function stuckPreparedTx(): Promise<string> {
  const stuck = await env.engine({ hooks: { afterPrepare: () => new Promise<void>(() => undefined) } });
  const tx = await stuck.begin({ label: "locks-in-doubt", timeoutMs: 60_000 });
  await tx.run("shard-a", (c) => c.query("SELECT 1"));
  await tx.run("shard-b", (c) => c.query("SELECT 1"));
  void tx.commit().catch(() => undefined);
  await waitFor(
    async () => {
      const row = await env.prisma.transaction.findUnique({ where: { id: tx.id }, select: { status: true } });
      return (
        row?.status === "PREPARING" &&
        (await env.shard("shard-a").isPrepared(tx.id)) &&
        (await env.shard("shard-b").isPrepared(tx.id))
      );
    },
    10_000,
    "the transaction to be stuck in PREPARING",
  );
  return tx.id;
}

describe("listing", () => {
  it("lists held locks with their holders' transactions, filtered by prefix, owner and mode", async () => {
    const engine = await env.engine();
    const tx = await engine.begin({ label: "lister", timeoutMs: 60_000 });
    const stranger = randomUUID();
    await locks.acquire({ key: "acct:1", owner: tx.id, mode: "exclusive" });
    await locks.acquire({ key: "acct:2", owner: tx.id, mode: "shared" });
    await locks.acquire({ key: "acct:3", owner: stranger });
    await locks.acquire({ key: "other", owner: "batch-job" });

    const all = await listLocks(deps, { prefix: "acct:" });
    expect(all.locks.map((l) => l.key)).toEqual(["acct:1", "acct:2", "acct:3"]);
    // Begin is lazy: a running transaction has no log row until its commit begins.
    expect(all.locks[0]!.holderTx).toBeNull();
    expect(all.locks[2]!.holderTx).toBeNull(); // no log row
    expect(all.now).toBeGreaterThanOrEqual(all.locks[0]!.acquiredAt);

    expect((await listLocks(deps, { owner: tx.id })).locks.map((l) => l.key)).toEqual(["acct:1", "acct:2"]);
    expect((await listLocks(deps, { owner: tx.id, mode: "shared" })).locks.map((l) => l.key)).toEqual(["acct:2"]);
    expect((await locksHeldBy(deps, tx.id)).locks).toHaveLength(2);
    expect((await listLocks(deps, { mode: "exclusive", prefix: "acct:" })).locks.map((l) => l.key)).toEqual(["acct:1", "acct:3"]);

    // Pages of one, continued by cursor, with the mode filter skipping a shared lock.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listLocks(deps, { prefix: "acct:", mode: "exclusive", limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.locks.map((l) => l.key));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(["acct:1", "acct:3"]);
    await tx.abort().catch(() => undefined);
  });

  it("shows a lock's waiters in FIFO order and draws the wait-for graph with its cycle", async () => {
    const a: string = randomUUID();
    const b: string = randomUUID();
    const c: string = randomUUID();
    await locks.acquire({ key: "g:1", owner: a });
    await locks.acquire({ key: "g:2", owner: b });
    const stop = new AbortController();
    const waits = [
      locks.acquire({ key: "g:1", owner: b, waitMs: 20_000, signal: stop.signal }),
      locks.acquire({ key: "g:2", owner: a, waitMs: 20_000, signal: stop.signal }),
    ];
    await waitFor(async () => (await locks.waitersOf("g:1")).length === 1, 5_000, "b queued on g:1");
    waits.push(locks.acquire({ key: "g:1", owner: c, mode: "shared", waitMs: 20_000, signal: stop.signal }));
    await waitFor(async () => (await locks.waitersOf("g:1")).length === 2 && (await locks.waitersOf("g:2")).length === 1, 5_000);

    const detail = await lockDetail(deps, "g:1");
    expect(detail.holders.map((h) => [h.owner, h.prepared])).toEqual([[a, null]]);
    expect(detail.waiters.map((w) => [w.owner, w.mode])).toEqual([
      [b, "exclusive"],
      [c, "shared"],
    ]);
    expect((await listLocks(deps, { prefix: "g:1" })).locks[0]!.waiting).toBe(2);

    const graph = await lockGraph(deps);
    const mine = graph.edges.filter((e) => [a, b, c].includes(e.waiter));
    expect(mine.map((e) => [e.waiter, e.holder, e.inCycle]).sort()).toEqual(
      [
        [a, b, true],
        [b, a, true],
        [c, a, false],
        [c, b, false], // c queued behind b's exclusive wait
      ].sort(),
    );
    expect(graph.cycles).toContainEqual(expect.arrayContaining([a, b]));
    expect(graph.nodes.filter((n) => n.inCycle).map((n) => n.id)).toEqual(expect.arrayContaining([a, b]));

    stop.abort();
    await Promise.allSettled(waits);
  });
});

describe("releaseLock guards", () => {
  it("refuses a stale token, naming who holds the lock now, and releases under the current one", async () => {
    const owner = randomUUID();
    const first = await locks.acquire({ key: "stuck:1", owner, ttlMs: 600_000 });
    await locks.release(first);
    const current = await locks.acquire({ key: "stuck:1", owner, ttlMs: 600_000 });

    const stale = await rejection(
      releaseLock(deps, { key: "stuck:1", expectedToken: first.token, operator, reason: "old view" }),
    );
    expect(stale.code).toBe("STALE_TOKEN");
    expect(stale.message).toContain("changed since you looked");
    expect(stale.message).toContain(`now held by ${owner} (token ${current.token}`);
    expect((await locks.inspect("stuck:1")).holders.map((h) => h.token)).toEqual([current.token]);

    const done = await releaseLock(deps, { key: "stuck:1", expectedToken: current.token, operator, reason: "holder vanished" });
    expect(done.released).toMatchObject({ owner, token: current.token });
    expect(compareTokens(done.fence, current.token)).toBe(1);
    expect((await locks.inspect("stuck:1")).holders).toEqual([]);
    expect((await lockDetail(deps, "stuck:1")).lastForcedRelease).toMatchObject({
      actor: "user:alice",
      reason: "holder vanished",
    });
    expect((await listLocks(deps, { prefix: "stuck:1" })).locks).toEqual([]);

    const audit = await auditOf("stuck:1");
    expect(audit.map((e) => [e.outcome, e.reason, e.userName, e.action])).toEqual([
      ["ok", "holder vanished", "alice", "lock.release"],
      ["refused", "old view", "alice", "lock.release"],
    ]);
    expect(audit[0]!.before).toEqual({ holders: [`${owner} exclusive #${current.token}`], fence: current.token });
    expect(audit[0]!.after).toEqual({ holders: [], fence: done.fence });

    // Released twice: the token no longer holds it.
    const again = await rejection(releaseLock(deps, { key: "stuck:1", expectedToken: current.token, operator, reason: "again" }));
    expect(again.code).toBe("STALE_TOKEN");
    expect(again.message).toContain("nobody holds it now");
  });

  it("refuses to release the lock of an in-doubt holder and points to the transaction", async () => {
    const txId = await stuckPreparedTx();
    const grant = await locks.acquire({ key: "stuck:prepared", owner: txId, ttlMs: 600_000 });

    const detail = await lockDetail(deps, "stuck:prepared");
    expect(detail.holders[0]!.prepared).toEqual({
      txId,
      status: "PREPARING",
      preparedOn: ["shard-a", "shard-b"],
      unconfirmedOn: [],
      href: `/transactions/${txId}`,
    });

    const err = await rejection(
      releaseLock(deps, { key: "stuck:prepared", expectedToken: grant.token, operator, reason: "stuck" }),
    );
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toContain("would not free the rows its prepared branch still holds in PostgreSQL");
    expect(err.details?.problem).toMatchObject({ txId, href: `/transactions/${txId}` });
    expect((await locks.inspect("stuck:prepared")).holders.map((h) => h.token)).toEqual([grant.token]);
    expect((await auditOf("stuck:prepared"))[0]).toMatchObject({ outcome: "refused", reason: "stuck" });

    // Over HTTP: a 409 problem whose members carry the transaction to resolve.
    const response = await callRoute(releaseRoute.POST, {
      method: "POST",
      path: "/api/locks/release",
      session: operatorSession,
      body: { key: "stuck:prepared", expectedToken: grant.token, reason: "stuck over http" },
    });
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(await json(response)).toMatchObject({ code: "CONFLICT", txId, href: `/transactions/${txId}`, status: 409 });

    // Once the transaction is resolved its rows are free, and so is the lock to release.
    const live = await env.engine();
    const opsDeps = { prisma: env.prisma, pool: env.db.pool, shards: deps.shards, engine: live };
    await forceAbort(opsDeps, { txId, operator, reason: "resolve first" });
    await waitFor(
      async () => (await env.prisma.transaction.findUnique({ where: { id: txId }, select: { endedAt: true } }))?.endedAt,
      15_000,
      "the transaction to end",
    );
    const done = await releaseLock(deps, { key: "stuck:prepared", expectedToken: grant.token, operator, reason: "resolved" });
    expect(done.remaining).toEqual([]);
  });
});

describe("routes", () => {
  it("lets a viewer read but not release, and answers bad input with 4xx", async () => {
    const grant = await locks.acquire({ key: "route/../key?#%", owner: randomUUID(), ttlMs: 600_000 });
    const list = await callRoute(locksRoute.GET, { path: "/api/locks?prefix=route%2F", session: viewerSession });
    expect(list.status).toBe(200);
    expect((await json<{ locks: { key: string }[] }>(list)).locks.map((l) => l.key)).toEqual(["route/../key?#%"]);

    const segment = encodeLockKey("route/../key?#%");
    const detail = await callRoute(lockRoute.GET, {
      path: `/api/locks/${segment}`,
      params: { key: segment },
      session: viewerSession,
    });
    expect(detail.status).toBe(200);
    expect(await json(detail)).toMatchObject({ key: "route/../key?#%", holders: [{ token: grant.token }] });

    const refused = await callRoute(releaseRoute.POST, {
      method: "POST",
      path: "/api/locks/release",
      session: viewerSession,
      body: { key: grant.key, expectedToken: grant.token, reason: "a viewer tries" },
    });
    expect(refused.status).toBe(403);
    expect((await locks.inspect(grant.key)).holders).toHaveLength(1);

    const bad = [
      await callRoute(lockRoute.GET, { path: "/api/locks/x", params: { key: "a/b" }, session: viewerSession }),
      await callRoute(locksRoute.GET, { path: "/api/locks?cursor=!!", session: viewerSession }),
      await callRoute(locksRoute.GET, { path: "/api/locks?cursor=AAAA", session: viewerSession }),
      await callRoute(locksRoute.GET, { path: "/api/locks?mode=both", session: viewerSession }),
      await callRoute(releaseRoute.POST, {
        method: "POST",
        path: "/api/locks/release",
        session: operatorSession,
        body: { key: grant.key, expectedToken: "12ab", reason: "bad token" },
      }),
      await callRoute(releaseRoute.POST, {
        method: "POST",
        path: "/api/locks/release",
        session: operatorSession,
        body: { key: grant.key, expectedToken: grant.token, reason: " " },
      }),
    ];
    for (const r of bad) {
      expect(r.status, await r.clone().text()).toBe(400);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
    }

    const stale = await callRoute(releaseRoute.POST, {
      method: "POST",
      path: "/api/locks/release",
      session: operatorSession,
      body: { key: grant.key, expectedToken: "1", reason: "stale view" },
    });
    expect(stale.status).toBe(409);
    expect(await json(stale)).toMatchObject({ code: "STALE_TOKEN", holders: [{ token: grant.token }] });

    const ok = await callRoute(releaseRoute.POST, {
      method: "POST",
      path: "/api/locks/release",
      session: operatorSession,
      body: { key: grant.key, expectedToken: grant.token, reason: "drill" },
    });
    expect(ok.status).toBe(200);
    expect((await locks.inspect(grant.key)).holders).toEqual([]);
  });
});
