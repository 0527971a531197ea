import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CohortError, isCohortError } from "../errors";
import { waitFor } from "../testing/waitFor";
import { compareTokens } from "./fencing";
import { lockTestKit, sleep, type LockTestKit } from "./lockTestKit";
import type { LockService } from "./lockService";
import type { LockGrant } from "./types";

let kit: LockTestKit;
let a: LockService;
let b: LockService;
let c: LockService;

beforeAll(() => {
  kit = lockTestKit();
  a = kit.service();
  b = kit.service();
  c = kit.service();
});
afterAll(async () => kit?.cleanup());

const rejection = async (p: Promise<unknown>): Promise<CohortError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof CohortError) return err;
    throw err;
  }
  throw new Error("expected a CohortError");
};

describe("mutual exclusion", () => {
  it("loses no update of a counter in Redis under contention from three processes", async () => {
    const counter = `${kit.namespace}:counter`;
    await kit.redis.set(counter, "0");
    const services = [a, b, c];
    let inside = 0;
    let maxInside = 0;
    const tokens: string[] = [];
    const worker = async (w: number) => {
      const locks = services[w % services.length]!;
      for (let i = 0; i < 15; i++) {
        const grant = await locks.acquire({ key: "counter", owner: `w${w}.${i}`, ttlMs: 10_000, waitMs: 30_000 });
        inside++;
        maxInside = Math.max(maxInside, inside);
        tokens.push(grant.token);
        const value = Number(await kit.redis.get(counter));
        await sleep(Math.random() * 2);
        await kit.redis.set(counter, String(value + 1));
        inside--;
        expect(await locks.release(grant)).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: 24 }, (_, w) => worker(w)));
    expect(Number(await kit.redis.get(counter))).toBe(24 * 15);
    expect(maxInside).toBe(1);
    // Fencing tokens grow with every grant, in the order the holders held the lock.
    for (let i = 1; i < tokens.length; i++) expect(compareTokens(tokens[i - 1]!, tokens[i]!)).toBe(-1);
    expect(await a.waitersOf("counter")).toEqual([]);
  });
});

describe("waiters", () => {
  it("serves waiters in FIFO order, across processes", async () => {
    const holder = await a.acquire({ key: "fifo", owner: "holder" });
    const order: number[] = [];
    const services = [a, b, c];
    const pending: Promise<void>[] = [];
    for (let i = 1; i <= 6; i++) {
      const locks = services[i % 3]!;
      pending.push(
        locks.acquire({ key: "fifo", owner: `fifo-${i}`, waitMs: 20_000 }).then(async (g) => {
          order.push(i);
          await sleep(10);
          await locks.release(g);
        }),
      );
      // The next waiter queues only once this one is in the queue: that defines the order.
      await waitFor(async () => (await a.waitersOf("fifo")).length === i, 5_000, `waiter ${i} queued`);
    }
    expect((await a.waitersOf("fifo")).map((w) => w.owner)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `fifo-${i}`));
    await a.release(holder);
    await Promise.all(pending);
    expect(order).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("lets shared holders in together and keeps a queued exclusive ahead of later readers", async () => {
    const writer = await a.acquire({ key: "rw", owner: "w0" });
    const events: string[] = [];
    const grants = new Map<string, LockGrant>();
    const take = (locks: LockService, owner: string, mode: "shared" | "exclusive") =>
      locks.acquire({ key: "rw", owner, mode, waitMs: 20_000 }).then((g) => {
        events.push(`+${owner}`);
        grants.set(owner, g);
      });
    const queued = (n: number) => waitFor(async () => (await a.waitersOf("rw")).length === n, 5_000, `${n} waiters`);
    const r1 = take(b, "r1", "shared");
    await queued(1);
    const r2 = take(c, "r2", "shared");
    await queued(2);
    const w1 = take(b, "w1", "exclusive");
    await queued(3);
    const r3 = take(c, "r3", "shared");
    await queued(4);
    await a.release(writer);
    await Promise.all([r1, r2]);
    const state = await a.inspect("rw");
    expect(state.holders.map((h) => h.owner).sort()).toEqual(["r1", "r2"]);
    expect(state.holders.every((h) => h.mode === "shared")).toBe(true);
    // r3 is compatible with the readers but must not pass the writer queued before it.
    await sleep(300);
    expect(events).not.toContain("+r3");
    await b.release(grants.get("r1")!);
    await c.release(grants.get("r2")!);
    await w1;
    expect(events).not.toContain("+r3");
    await b.release(grants.get("w1")!);
    await r3;
    expect(events.slice(-2)).toEqual(["+w1", "+r3"]);
    await c.release(grants.get("r3")!);
  });

  it("removes a crashed waiter so the queue behind it moves on", async () => {
    const crashing = kit.service({ waiterHeartbeatMs: 150 });
    const holder = await a.acquire({ key: "crash", owner: "crash-holder" });
    const doomed = crashing.acquire({ key: "crash", owner: "crashed-waiter", waitMs: 20_000 }).catch((err: unknown) => err);
    await waitFor(async () => (await a.waitersOf("crash")).length === 1, 5_000, "crashing waiter queued");
    const survivor = b.acquire({ key: "crash", owner: "survivor", waitMs: 20_000 });
    await waitFor(async () => (await a.waitersOf("crash")).length === 2, 5_000, "survivor queued");
    // The process dies: no more heartbeats, no leave.
    kit.connectionOf(crashing).disconnect();
    await doomed;
    expect((await a.waitersOf("crash")).map((w) => w.owner)).toEqual(["crashed-waiter", "survivor"]);
    const releasedAt = Date.now();
    await a.release(holder);
    const grant = await survivor;
    // Served once the dead waiter's heartbeat deadline (3 × 150 ms) passed, not after the lease.
    expect(Date.now() - releasedAt).toBeLessThan(2_000);
    expect((await a.waitersOf("crash")).map((w) => w.owner)).toEqual([]);
    await b.release(grant);
  });

  it("times out with LOCK_TIMEOUT naming the blocker, and leaves the queue", async () => {
    const holder = await a.acquire({ key: "slow", owner: "slow-holder" });
    const started = Date.now();
    const err = await rejection(b.acquire({ key: "slow", owner: "impatient", waitMs: 300 }));
    expect(err.code).toBe("LOCK_TIMEOUT");
    expect(err.details).toMatchObject({ key: "slow", blockedBy: "slow-holder" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await a.waitersOf("slow")).toEqual([]);
    expect((await rejection(b.acquire({ key: "slow", owner: "no-wait", waitMs: 0 }))).code).toBe("LOCK_TIMEOUT");
    expect(await b.tryAcquire({ key: "slow", owner: "no-wait" })).toBeNull();
    await a.release(holder);
  });

  it("stops waiting when the caller's signal aborts", async () => {
    const holder = await a.acquire({ key: "abort", owner: "abort-holder" });
    const ac = new AbortController();
    const waiting = b.acquire({ key: "abort", owner: "aborted", waitMs: 20_000, signal: ac.signal });
    await waitFor(async () => (await a.waitersOf("abort")).length === 1, 5_000, "queued");
    ac.abort(new CohortError("TX_ABORTED", "transaction aborted"));
    expect((await rejection(waiting)).code).toBe("TX_ABORTED");
    expect(await a.waitersOf("abort")).toEqual([]);
    await a.release(holder);
  });

  it("fails a wait with ENGINE_STOPPED when its service closes, and takes it out of the queue", async () => {
    const closing = kit.service();
    const holder = await a.acquire({ key: "closing", owner: "closing-holder" });
    // Caught from the start: the wait rejects while close() is still being awaited.
    const failed = rejection(closing.acquire({ key: "closing", owner: "left-behind", waitMs: 20_000 }));
    await waitFor(async () => (await a.waitersOf("closing")).length === 1, 5_000, "queued");
    const started = Date.now();
    await closing.close();
    const err = await failed;
    expect(err.code).toBe("ENGINE_STOPPED");
    expect(err.message).toMatch(/left-behind stopped waiting for lock "closing"/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await a.waitersOf("closing")).toEqual([]);
    await a.release(holder);
  });
});

describe("leases", () => {
  it("expires a lease that is not renewed, and the waiter gets it right after", async () => {
    const old = await a.acquire({ key: "expiry", owner: "forgetful", ttlMs: 400 });
    const started = Date.now();
    const next = await b.acquire({ key: "expiry", owner: "next", waitMs: 10_000 });
    const waited = Date.now() - started;
    // Woken when the lease ran out, not at some later heartbeat.
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(1_000);
    expect(compareTokens(next.token, old.token)).toBe(1);
    expect((await rejection(a.renew(old, 1_000))).code).toBe("LOCK_LOST");
    // A late release of the old grant cannot touch the new holder's lease.
    expect(await a.release(old)).toBe(false);
    expect((await a.inspect("expiry")).holders.map((h) => h.owner)).toEqual(["next"]);
    await b.release(next);
  });

  it("renews a live lease", async () => {
    const grant = await a.acquire({ key: "renew", owner: "renewer", ttlMs: 300 });
    const renewed = await a.renew(grant, 5_000);
    expect(renewed.token).toBe(grant.token);
    expect(renewed.expiresAt).toBeGreaterThan(grant.expiresAt + 4_000);
    await sleep(500);
    expect(await b.tryAcquire({ key: "renew", owner: "other" })).toBeNull();
    expect(await a.release(renewed)).toBe(true);
  });

  it("re-enters with the same token and upgrades a sole shared hold with a new one", async () => {
    const shared = await a.acquire({ key: "reenter", owner: "tx-r", mode: "shared" });
    const again = await a.acquire({ key: "reenter", owner: "tx-r", mode: "shared" });
    expect(again.token).toBe(shared.token);
    const upgraded = await a.acquire({ key: "reenter", owner: "tx-r", mode: "exclusive" });
    expect(upgraded.mode).toBe("exclusive");
    expect(compareTokens(upgraded.token, shared.token)).toBe(1);
    const covered = await a.acquire({ key: "reenter", owner: "tx-r", mode: "shared" });
    expect(covered).toMatchObject({ mode: "exclusive", token: upgraded.token });
    expect(await b.tryAcquire({ key: "reenter", owner: "other", mode: "shared" })).toBeNull();
    expect(await a.releaseAllOf("tx-r")).toBe(1);
    expect(await b.tryAcquire({ key: "reenter", owner: "other", mode: "shared" })).not.toBeNull();
    await b.releaseAllOf("other");
  });

  it("rejects bad input as BAD_REQUEST", async () => {
    for (const req of [
      { key: "", owner: "x" },
      { key: "k\n", owner: "x" },
      { key: "k", owner: "a|b" },
      { key: "k", owner: "x", ttlMs: 0 },
      { key: "k", owner: "x", waitMs: -1 },
    ]) {
      expect((await rejection(a.acquire(req))).code).toBe("BAD_REQUEST");
    }
  });
});

describe("operator release", () => {
  it("refuses a stale token, then releases against the token seen, advances the fence and records who and why", async () => {
    const first = await a.acquire({ key: "stuck", owner: "stuck-tx" });
    await a.release(first);
    const current = await a.acquire({ key: "stuck", owner: "stuck-tx" });
    const waiting = b.acquire({ key: "stuck", owner: "next-in-line", waitMs: 20_000 });
    await waitFor(async () => (await a.waitersOf("stuck")).length === 1, 5_000, "queued");

    // The operator looked before the holder re-acquired: the release is refused, nothing changes.
    const stale = await rejection(
      c.forceRelease({ key: "stuck", expectedToken: first.token, actor: "alice", reason: "stuck for 10 min" }),
    );
    expect(stale.code).toBe("STALE_TOKEN");
    expect(stale.details).toMatchObject({ holders: [expect.objectContaining({ owner: "stuck-tx", token: current.token })] });
    expect((await a.inspect("stuck")).holders.map((h) => h.token)).toEqual([current.token]);

    const result = await c.forceRelease({
      key: "stuck",
      expectedToken: current.token,
      actor: "alice",
      reason: "stuck for 10 min",
    });
    expect(result.before).toEqual([expect.objectContaining({ owner: "stuck-tx", token: current.token, mode: "exclusive" })]);
    expect(result.after).toEqual([]);
    expect(compareTokens(result.fence, current.token)).toBe(1);

    // The waiter is woken at once and its token outranks the burnt one.
    const next = await waiting;
    expect(compareTokens(next.token, result.fence)).toBe(1);
    const state = await a.inspect("stuck");
    expect(state.lastForcedRelease).toMatchObject({
      actor: "alice",
      reason: "stuck for 10 min",
      owner: "stuck-tx",
      token: current.token,
    });
    expect(state.holders.map((h) => h.owner)).toEqual(["next-in-line"]);
    const audit = await kit.redis.xrange(c.indexKeys.audit, "-", "+");
    expect(JSON.parse(audit.at(-1)![1][1]!)).toMatchObject({ type: "lock.forceReleased", actor: "alice", key: "stuck" });

    // The released holder learns it lost the lock and cannot release the new one.
    expect((await rejection(a.renew(current))).code).toBe("LOCK_LOST");
    expect(await a.release(current)).toBe(false);
    await b.release(next);
  });

  it("needs an actor and a reason", async () => {
    expect((await rejection(c.forceRelease({ key: "k", expectedToken: "1", actor: "alice", reason: " " }))).code).toBe(
      "BAD_REQUEST",
    );
  });
});

describe("lock index", () => {
  it("lists held locks by key prefix page by page, and drops entries of expired leases", async () => {
    const grants: [LockService, LockGrant][] = [];
    for (const i of [3, 1, 5, 2, 4]) {
      const locks = i % 2 ? a : b;
      grants.push([locks, await locks.acquire({ key: `acct:${i}`, owner: `lister-${i}` })]);
    }
    grants.push([a, await a.acquire({ key: "other:1", owner: "lister-x" })]);
    const gone = await b.acquire({ key: "acct:9", owner: "short", ttlMs: 150 });
    const blocked = c.acquire({ key: "acct:2", owner: "queued", waitMs: 20_000 }).then((g) => c.release(g));
    await waitFor(async () => (await a.waitersOf("acct:2")).length === 1, 5_000, "queued");
    await sleep(300); // acct:9 expires; the other services' index writes are due

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<LockService["listHeld"]>> = await c.listHeld({ prefix: "acct:", limit: 2, cursor });
      expect(page.locks.length).toBeLessThanOrEqual(2);
      seen.push(...page.locks.map((l) => `${l.key}=${l.owner}`));
      if (page.locks.some((l) => l.key === "acct:2")) expect(page.locks.find((l) => l.key === "acct:2")!.waiting).toBe(1);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([1, 2, 3, 4, 5].map((i) => `acct:${i}=lister-${i}`));
    expect(pages).toBe(3);
    // The expired grant's entry was dropped from the index while listing.
    expect(await kit.redis.zscore(c.indexKeys.held, `acct:9\u0000short\u0000${gone.token}`)).toBeNull();
    expect((await c.listHeld({})).locks.map((l) => l.key)).toContain("other:1");

    for (const [locks, g] of grants) await locks.release(g);
    await blocked;
    await sleep(100);
    expect((await c.listHeld({ prefix: "acct:" })).locks).toEqual([]);
  });

  it("never writes locks held for less than the index delay", async () => {
    const quick = kit.service({ indexDelayMs: 1_000 });
    const g = await quick.acquire({ key: "blink", owner: "blinker" });
    await quick.release(g);
    await sleep(50);
    const members = await kit.redis.zrange(quick.indexKeys.held, 0, -1);
    expect(members.some((m) => m.startsWith("blink\u0000"))).toBe(false);
  });

  it("releases an owner's locks made by another process when asked to search the index", async () => {
    const g1 = await a.acquire({ key: "takeover:1", owner: "dead-tx" });
    const g2 = await a.acquire({ key: "takeover:2", owner: "dead-tx" });
    await a.listHeld({ prefix: "takeover:" }); // writes a's pending index entries
    expect(await b.releaseAllOf("dead-tx")).toBe(0); // b made no grants for it
    expect(await b.releaseAllOf("dead-tx", { searchIndex: true })).toBe(2);
    expect(await a.release(g1)).toBe(false);
    expect(await a.release(g2)).toBe(false);
    expect(isCohortError(await rejection(a.renew(g1)), "LOCK_LOST")).toBe(true);
  });
});
