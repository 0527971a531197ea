// The executor against real shards: accounts move in Cohort transactions (delete on the
// old shard, insert on the new, atomically), and at every step between two moves a fresh
// RoutingTable, loaded as any other process would, must point at the shard that really
// holds each account.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../engine/engine";
import { CohortError, isCohortError } from "../errors";
import { decodeEvent, eventsStream } from "../live/events";
import { INITIAL_BALANCE } from "../sim/bankSchema";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { createHasher, type Hasher, type RingMember } from "./hashRing";
import { compareKeys, planRebalance } from "./rebalance";
import { runRebalance, type MoveOutcome, type RunRebalanceOptions } from "./rebalanceRunner";
import { cancelRebalance, getRebalanceRun, resumeRebalance } from "./rebalanceStore";
import { loadRing, loadRingVersion, saveRingVersion } from "./ringStore";
import { loadRoutingTable } from "./routing";

const ACCOUNTS = 300;
let env: TestEnv;
let engine: Engine;
let hasher: Hasher;
const meta = { actor: "test:rebalance", reason: "integration test" };
const deps = () => ({ prisma: env.prisma, redis: env.redis, namespace: env.namespace });

beforeAll(async () => {
  env = await createTestEnv({ shards: 3, accounts: 0 });
  engine = await env.engine();
  hasher = await createHasher();
  const first = await saveRingVersion(
    deps(),
    [
      { name: "shard-a", weight: 1 },
      { name: "shard-b", weight: 1 },
    ],
    meta,
    0,
  );
  const ring = (await loadRingVersion(env.prisma, hasher, first.version))!.ring;
  for (const shard of env.shards) {
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => i).filter((i) => ring.lookup(String(i)) === shard.name);
    await shard.query("INSERT INTO accounts (id, balance) SELECT unnest($1::bigint[]), $2", [ids, INITIAL_BALANCE]);
  }
});
afterAll(async () => {
  await env?.cleanup();
});

/** The mover a workload would write: one Cohort transaction per account. */
async function moveAccount(key: string, from: string, to: string): Promise<MoveOutcome> {
  const id = Number(key);
  const tx = await engine.begin({ label: "rebalance.move" });
  try {
    const taken = await tx.run(from, (c) =>
      c.query<{ balance: string; fence: string }>("DELETE FROM accounts WHERE id = $1 RETURNING balance, fence", [id]),
    );
    const row = taken.rows[0];
    if (!row) {
      // Moved by an earlier attempt whose cursor write was lost (a crash): say so, move nothing.
      const there = await tx.run(to, (c) => c.query("SELECT 1 FROM accounts WHERE id = $1", [id]));
      await tx.abort("account already moved");
      if (there.rowCount === 1) return "already";
      throw new Error(`account ${id} is on neither ${from} nor ${to}`);
    }
    await tx.run(to, (c) =>
      c.query("INSERT INTO accounts (id, balance, fence) VALUES ($1, $2, $3)", [id, row.balance, row.fence]),
    );
    await tx.commit();
    return "moved";
  } catch (err) {
    if (tx.status === "active") await tx.abort(`move failed: ${String(err)}`).catch(() => undefined);
    throw err;
  }
}

/**
 * Keys after `after` from every shard, merged in rebalance order (numeric for account ids).
 * Select the bigint itself (pg hands it over as a string): with `SELECT id::text … ORDER BY
 * id` the ORDER BY would name the text output column and sort "10" before "9", and a page
 * that skips keys makes the executor step over them unmoved.
 */
async function fetchAccountKeys(after: string | null, limit: number): Promise<string[]> {
  const pages = await Promise.all(
    env.shards.map((s) =>
      s.query<{ id: string }>("SELECT id FROM accounts WHERE $1::bigint IS NULL OR id > $1::bigint ORDER BY id LIMIT $2", [
        after,
        limit,
      ]),
    ),
  );
  return [...new Set(pages.flatMap((p) => p.rows.map((r) => r.id)))].sort(compareKeys).slice(0, limit);
}

async function whereAccountsAre(): Promise<Map<string, string>> {
  const at = new Map<string, string>();
  for (const s of env.shards) {
    const { rows } = await s.query<{ id: string }>("SELECT id::text FROM accounts");
    for (const r of rows) {
      expect(at.has(r.id), `account ${r.id} on two shards`).toBe(false);
      at.set(r.id, s.name);
    }
  }
  return at;
}

/** Every account exists once, and a freshly loaded RoutingTable points at its shard. */
async function expectRoutingExact(): Promise<void> {
  const routing = (await loadRoutingTable(env.prisma, hasher))!;
  const at = await whereAccountsAre();
  expect(at.size).toBe(ACCOUNTS);
  const wrong = [...at].filter(([key, shard]) => routing.locate(key) !== shard);
  expect(wrong, `cursor ${routing.transition?.cursor}`).toEqual([]);
}

async function expectBalanced(): Promise<void> {
  const sums = await Promise.all(
    env.shards.map((s) => s.query<{ total: string | null }>("SELECT sum(balance) AS total FROM accounts")),
  );
  expect(sums.reduce((t, r) => t + Number(r.rows[0]!.total ?? 0), 0)).toBe(ACCOUNTS * INITIAL_BALANCE);
}

async function changeRing(members: RingMember[]): Promise<string> {
  const current = (await loadRing(env.prisma, hasher))!;
  const saved = await saveRingVersion(deps(), members, meta, current.version);
  return saved.runId!;
}

function options(runId: string, overrides: Partial<RunRebalanceOptions> = {}): RunRebalanceOptions {
  return {
    prisma: env.prisma,
    redis: env.redis,
    namespace: env.namespace,
    hasher,
    runId,
    fetchKeys: fetchAccountKeys,
    moveKey: moveAccount,
    pageSize: 40,
    leaseMs: 2_000,
    ...overrides,
  };
}

async function plannedKeys(runId: string) {
  const run = (await getRebalanceRun(env.prisma, runId))!;
  const [from, to] = await Promise.all([
    loadRingVersion(env.prisma, hasher, run.fromVersion),
    loadRingVersion(env.prisma, hasher, run.toVersion),
  ]);
  return planRebalance(
    from!.ring,
    to!.ring,
    Array.from({ length: ACCOUNTS }, (_, i) => String(i)),
  );
}

describe("runRebalance", () => {
  it("moves every account whose owner changed, with routing exact between any two moves", async () => {
    const runId = await changeRing([
      { name: "shard-a", weight: 1 },
      { name: "shard-b", weight: 1 },
      { name: "shard-c", weight: 1 },
    ]);
    const plan = await plannedKeys(runId);
    expect(plan.length).toBeGreaterThan(50);
    await expectRoutingExact();
    let calls = 0;
    const outcome = await runRebalance(
      options(runId, {
        moveKey: async (key, from, to) => {
          if (calls++ % 10 === 0) await expectRoutingExact();
          return moveAccount(key, from, to);
        },
      }),
    );
    expect(outcome).toMatchObject({ stopped: "done", status: "DONE", moved: plan.length, skipped: 0, total: plan.length });
    expect(outcome.cursor).toBe(String(ACCOUNTS - 1));
    const run = (await getRebalanceRun(env.prisma, runId))!;
    expect(run).toMatchObject({ status: "DONE", moved: plan.length, total: plan.length, ownerId: null });
    expect(run.finishedAt).not.toBeNull();

    const routing = (await loadRoutingTable(env.prisma, hasher))!;
    expect(routing.transition).toBeNull();
    for (const [key, shard] of await whereAccountsAre()) expect(shard).toBe(routing.ring.lookup(key));
    await expectRoutingExact();
    await expectBalanced();

    const recent = await env.redis.xrevrange(eventsStream(env.namespace), "+", "-", "COUNT", 200);
    const done = recent.map(([, f]) => decodeEvent(f)).find((e) => e?.type === "ring.rebalance" && e.runId === runId);
    expect(done).toMatchObject({ status: "DONE", moved: plan.length, total: plan.length });
  });

  it("resumes after a crash from the persisted cursor, skipping the key moved just before it", async () => {
    const runId = await changeRing([
      { name: "shard-a", weight: 1 },
      { name: "shard-b", weight: 2 },
      { name: "shard-c", weight: 1 },
    ]);
    const plan = await plannedKeys(runId);
    // First executor: stops after 7 moves (a shutdown releases the run, still RUNNING).
    const stop = new AbortController();
    let moves = 0;
    const first = await runRebalance(
      options(runId, {
        executorId: "first",
        signal: stop.signal,
        moveKey: async (k, f, t) => {
          const r = await moveAccount(k, f, t);
          if (++moves === 7) stop.abort();
          return r;
        },
      }),
    );
    // It stops before the next move, with the cursor past the unchanged keys in between.
    const beforeEighth = String(Number(plan[7]!.key) - 1);
    expect(first).toMatchObject({ stopped: "aborted", status: "RUNNING", moved: 7, cursor: beforeEighth });
    // Make it a crash: the next key's move committed but its cursor write never happened,
    // and the dead executor's lease is still held (then lapses).
    expect(await moveAccount(plan[7]!.key, plan[7]!.from, plan[7]!.to)).toBe("moved");
    await env.prisma
      .$executeRaw`UPDATE rebalance_runs SET owner_id = 'dead', lease_expires_at = now() + interval '300 milliseconds' WHERE id = ${runId}::uuid`;
    const early = await runRebalance(options(runId, { executorId: "second" })).catch((e: unknown) => e);
    expect(isCohortError(early, "RING_CONFLICT")).toBe(true);
    expect((early as CohortError).details).toMatchObject({ reason: "run-owned", ownerId: "dead" });

    await new Promise((r) => setTimeout(r, 400));
    const second = await runRebalance(options(runId, { executorId: "second" }));
    expect(second).toMatchObject({ stopped: "done", status: "DONE", moved: plan.length - 1, skipped: 1, total: plan.length });
    await expectRoutingExact();
    await expectBalanced();
    // Running a finished run again is a no-op.
    expect(await runRebalance(options(runId))).toMatchObject({ stopped: "not-running", status: "DONE" });
  });

  it("cancels between two keys, keeps routing split exactly at the cursor, and resumes to the end", async () => {
    const runId = await changeRing([
      { name: "shard-a", weight: 1 },
      { name: "shard-c", weight: 1 },
    ]);
    const plan = await plannedKeys(runId);
    let moves = 0;
    const cancelled = await runRebalance(
      options(runId, {
        moveKey: async (k, f, t) => {
          const r = await moveAccount(k, f, t);
          if (++moves === 5) await cancelRebalance(deps(), runId, { actor: "op:carol", reason: "load spike" });
          return r;
        },
      }),
    );
    // The key moved when the cancel landed is recorded; nothing after it is touched.
    expect(cancelled).toMatchObject({ stopped: "cancelled", status: "CANCELLED", moved: 5, cursor: plan[4]!.key });
    expect(moves).toBe(5);
    expect((await loadRoutingTable(env.prisma, hasher))!.transition).toMatchObject({ status: "CANCELLED", cursor: plan[4]!.key });
    await expectRoutingExact();
    expect(await runRebalance(options(runId))).toMatchObject({ stopped: "not-running", status: "CANCELLED" });

    await resumeRebalance(deps(), runId, { actor: "op:carol", reason: "quiet again" });
    const done = await runRebalance(options(runId));
    expect(done).toMatchObject({ stopped: "done", status: "DONE", moved: plan.length });
    await expectRoutingExact();
    await expectBalanced();
  });

  it("marks a run FAILED when a key cannot be moved, and a resume finishes it", async () => {
    const runId = await changeRing([
      { name: "shard-a", weight: 1 },
      { name: "shard-b", weight: 1 },
      { name: "shard-c", weight: 1 },
    ]);
    const plan = await plannedKeys(runId);
    const failed = await runRebalance(
      options(runId, {
        maxAttempts: 2,
        retryBaseMs: 1,
        moveKey: async (k, f, t) => {
          if (k === plan[3]!.key) throw new CohortError("BRANCH_FAILED", "shard unreachable");
          return moveAccount(k, f, t);
        },
      }),
    );
    expect(failed).toMatchObject({ stopped: "failed", status: "FAILED", moved: 3, cursor: String(Number(plan[3]!.key) - 1) });
    expect((await getRebalanceRun(env.prisma, runId))!.lastError).toMatch(/shard unreachable/);
    await expectRoutingExact();

    await resumeRebalance(deps(), runId, { actor: "op:dave", reason: "shard back" });
    expect(await runRebalance(options(runId))).toMatchObject({ stopped: "done", moved: plan.length });
    await expectRoutingExact();
    await expectBalanced();
  });

  it("fails a run whose key source breaks the order routing relies on, without moving anything", async () => {
    const runId = await changeRing([
      { name: "shard-a", weight: 1 },
      { name: "shard-b", weight: 1 },
    ]);
    const bad = await runRebalance(options(runId, { fetchKeys: async () => ["10", "9"] }));
    expect(bad).toMatchObject({ stopped: "failed", status: "FAILED", moved: 0, cursor: null });
    expect(bad.error).toMatch(/compareKeys order/);
    await expectRoutingExact();
    await resumeRebalance(deps(), runId, { actor: "op:erin", reason: "key source fixed" });
    expect(await runRebalance(options(runId))).toMatchObject({ stopped: "done", status: "DONE" });
    await expectRoutingExact();
    await expectBalanced();
  });
});
