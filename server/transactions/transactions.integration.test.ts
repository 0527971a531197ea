// The transaction list and detail against a real coordinator log: keyset pages stay
// exact while the engine and other writers keep inserting, and every filter returns
// exactly the rows it describes.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../engine/engine";
import { applyLeg } from "../sim/transfer";
import { startWorkload } from "../sim/workload";
import { waitFor } from "../testing/waitFor";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { getTransactionDetail } from "./detail";
import { listQuerySchema, toListQuery, type ListQuery } from "./filters";
import { listTransactions } from "./list";
import type { TxListItem } from "./types";

let env: TestEnv;
let engine: Engine;

const SYNTHETIC = 600;
/**
 * Owner of the synthetic rows: a live-looking engine instance, so the test engine's
 * recovery does not take them over and finish them under the assertions.
 */
const PARKED = randomUUID();
const STATES = ["ACTIVE", "PREPARING", "COMMITTING", "COMMITTED", "ABORTING", "ABORTED"] as const;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 200 });
  engine = await env.engine();
  await env.db.pool.query(
    `INSERT INTO engine_instances (id, host, pid, lease_expires_at) VALUES ($1, 'parked-by-test', 0, now() + interval '1 day')`,
    [PARKED],
  );
  await insertSynthetic(SYNTHETIC);
});
afterAll(async () => env?.cleanup());

/**
 * Rows written straight into the log, `tiesPer` sharing each started_at so the id must
 * break ties, spread over every state, two labels, and one or both shards.
 */
async function insertSynthetic(n: number, opts: { startedAt?: "now" | "past"; tiesPer?: number } = {}): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  const ties = opts.tiesPer ?? 7;
  await env.db.pool.query(
    `WITH x AS (
       SELECT id, ord, (ARRAY['ACTIVE','PREPARING','COMMITTING','COMMITTED','ABORTING','ABORTED'])[1 + ord % 6]::"TxStatus" AS st
         FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, ord)),
     t AS (
       INSERT INTO transactions (id, label, status, outcome, decision, coordinator_id, started_at, deadline_at, updated_at, ended_at)
       SELECT id, CASE WHEN ord % 3 = 0 THEN 'alpha' ELSE 'beta' END, st,
              CASE WHEN st IN ('COMMITTED', 'ABORTED') THEN st END,
              CASE WHEN st IN ('COMMITTING', 'COMMITTED') THEN 'COMMIT'::"Decision" WHEN st IN ('ABORTING', 'ABORTED') THEN 'ABORT'::"Decision" END,
              $4::uuid, s, s + interval '30 s', s, CASE WHEN st IN ('COMMITTED', 'ABORTED') THEN s + interval '5 ms' END
         FROM (SELECT *, CASE WHEN $2 = 'now' THEN now()
                              ELSE date_trunc('second', now()) - interval '1 hour' - (ord / $3) * interval '1 second' END AS s FROM x) y
       RETURNING id, status)
     INSERT INTO branches (tx_id, shard, gid, status)
     SELECT t.id, sh, 'cohort:' || t.id || ':' || sh, 'ACTIVE'
       FROM t CROSS JOIN unnest(ARRAY['shard-a', 'shard-b']) AS sh
      WHERE sh = 'shard-a' OR get_byte(uuid_send(t.id), 15) % 2 = 0`,
    [ids, opts.startedAt ?? "past", ties, PARKED],
  );
  return ids;
}

const query = (input: Record<string, string | number> = {}): ListQuery =>
  toListQuery(listQuerySchema.parse(Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]))));

/** Follows nextCursor to the end, pausing between pages so concurrent writers interleave. */
async function readAll(base: Record<string, string | number>, pauseMs = 0): Promise<TxListItem[]> {
  const items: TxListItem[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await listTransactions(env.prisma, query({ ...base, ...(cursor ? { cursor } : {}) }));
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return items;
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error("pagination did not end");
}

function expectStrictOrder(items: TxListItem[], sort: "newest" | "oldest"): void {
  for (let i = 1; i < items.length; i++) {
    const [a, b] = sort === "newest" ? [items[i]!, items[i - 1]!] : [items[i - 1]!, items[i]!];
    const before = a.startedAt < b.startedAt || (a.startedAt === b.startedAt && a.id < b.id);
    expect(before, `rows ${i - 1} and ${i} out of order`).toBe(true);
  }
}

describe("keyset pagination", () => {
  it.each(["newest", "oldest"] as const)("sorted %s first, visits every row once while new rows keep arriving", async (sort) => {
    const existing = (await env.prisma.transaction.findMany({ select: { id: true } })).map((r) => r.id);
    const workload = startWorkload(engine, { accounts: 200, concurrency: 4, rate: 200 });
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await insertSynthetic(5, { startedAt: "now", tiesPer: 5 });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let items: TxListItem[];
    try {
      items = await readAll({ sort, limit: 23 }, 3);
    } finally {
      writing = false;
      await writer;
      await workload.stop();
    }
    expect(workload.stats.committed).toBeGreaterThan(0);
    const ids = items.map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    const seen = new Set(ids);
    expect(existing.filter((id) => !seen.has(id))).toEqual([]);
    expectStrictOrder(items, sort);
  });

  it("returns the same row for a cursor as the next page's neighbour", async () => {
    const first = await listTransactions(env.prisma, query({ limit: 5 }));
    const second = await listTransactions(env.prisma, query({ limit: 5, cursor: first.nextCursor! }));
    const both = await listTransactions(env.prisma, query({ limit: 10 }));
    expect([...first.items, ...second.items].map((i) => i.id)).toEqual(both.items.map((i) => i.id));
    expect(first.items.at(-1)!.cursor).toBe(first.nextCursor);
  });

  it("says there is no next page on the last one", async () => {
    const label = `solo-${randomUUID()}`;
    await env.db.pool.query(
      `INSERT INTO transactions (id, label, status, coordinator_id, deadline_at) VALUES ($1, $2, 'ACTIVE', $3, now() + interval '1 min')`,
      [randomUUID(), label, PARKED],
    );
    expect((await listTransactions(env.prisma, query({ label }))).nextCursor).toBeNull();
    expect((await listTransactions(env.prisma, query({ label: "no-such-label" }))).items).toEqual([]);
  });
});

describe("filters", () => {
  interface Truth {
    id: string;
    label: string;
    status: string;
    startedAt: Date;
    shards: string[];
  }
  let truth: Truth[];

  beforeAll(async () => {
    // The engine's end records land in the background, batched: wait for them before the snapshot.
    await waitFor(
      async () => (await env.prisma.transaction.count({ where: { coordinatorId: engine.instanceId, endedAt: null } })) === 0,
      5_000,
      "the engine's end records",
    );
    const rows = await env.prisma.transaction.findMany({
      select: { id: true, label: true, status: true, startedAt: true, branches: { select: { shard: true } } },
    });
    truth = rows.map((r) => ({ ...r, shards: r.branches.map((b) => b.shard) }));
  });

  const check = async (input: Record<string, string | number>, predicate: (t: Truth) => boolean) => {
    const expected = truth.filter(predicate).map((t) => t.id);
    const items = await readAll({ ...input, limit: 50 });
    expect(items.map((i) => i.id).sort()).toEqual(expected.sort());
    expectStrictOrder(items, "newest");
    return items;
  };

  it.each(STATES)("state %s", async (state) => {
    const items = await check({ state }, (t) => t.status === state);
    expect(items.length).toBeGreaterThan(0);
  });

  it("state open: every unfinished transaction", async () => {
    await check({ state: "open" }, (t) => !["COMMITTED", "ABORTED"].includes(t.status));
  });

  it("label, exactly", async () => {
    await check({ label: "alpha" }, (t) => t.label === "alpha");
    await check({ label: "alph" }, () => false);
  });

  it("shard, by branch", async () => {
    await check({ shard: "shard-b" }, (t) => t.shards.includes("shard-b"));
  });

  it("age: started more than N seconds ago", async () => {
    const now = Date.now();
    await check({ olderThan: 3605 }, (t) => t.startedAt.getTime() < now - 3605_000);
  });

  it("id prefix, dashes and case as typed", async () => {
    const some = truth[0]!.id;
    const typed = some.slice(0, 10).toUpperCase();
    await check({ id: typed }, (t) => t.id.replaceAll("-", "").startsWith(typed.replaceAll("-", "").toLowerCase()));
    await check({ id: some }, (t) => t.id === some);
  });

  it("several at once", async () => {
    await check({ state: "aborted", label: "beta", shard: "shard-a" }, (t) => t.status === "ABORTED" && t.label === "beta");
  });
});

describe("detail", () => {
  it("shows a committed transaction's branches and timeline, and offers no action", async () => {
    const tx = await engine.begin({ label: "detail-commit" });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 0, -1));
    await tx.run("shard-b", (c) => applyLeg(c, tx.id, 1, 1));
    await tx.commit();
    // The end record follows the caller's COMMITTED in the background.
    await waitFor(async () => (await getTransactionDetail(env.prisma, tx.id))?.status === "COMMITTED", 5_000, "the end record");
    const detail = (await getTransactionDetail(env.prisma, tx.id))!;
    expect(detail).toMatchObject({ id: tx.id, label: "detail-commit", status: "COMMITTED", decision: "COMMIT" });
    expect(detail.branches.map((b) => [b.shard, b.status, b.vote])).toEqual([
      ["shard-a", "COMMITTED", true],
      ["shard-b", "COMMITTED", true],
    ]);
    expect(detail.timeline.map((r) => r.type)).toEqual(["begin", "prepare", "decision", "end"]);
    expect(detail.timeline[2]!.data).toEqual({ decision: "COMMIT", votes: { "shard-a": "yes", "shard-b": "yes" } });
    expect(detail.timeline.every((r) => r.actor.length > 0 && !Number.isNaN(Date.parse(r.at)))).toBe(true);
    expect(detail.inDoubt.inDoubt).toBe(false);
    expect(detail.actions.map((a) => [a.action, a.allowed])).toEqual([
      ["retry", false],
      ["force-abort", false],
      ["force-commit", false],
    ]);
  });

  it("flags a stalled decided transaction as in doubt and offers a retry", async () => {
    const id = randomUUID();
    await env.db.pool.query(
      `INSERT INTO transactions (id, label, status, decision, coordinator_id, started_at, deadline_at, decided_at, updated_at)
       VALUES ($1, 'stuck', 'COMMITTING', 'COMMIT', $2, now() - interval '2 min', now(), now() - interval '90 s', now() - interval '90 s')`,
      [id, PARKED],
    );
    await env.db.pool.query(
      `INSERT INTO branches (tx_id, shard, gid, status, vote, attempts, last_error, next_retry_at)
       VALUES ($1, 'shard-a', $2, 'PREPARED', true, 3, 'connection refused', now() + interval '8 s')`,
      [id, `cohort:${id}:shard-a`],
    );
    const detail = (await getTransactionDetail(env.prisma, id))!;
    expect(detail.inDoubt).toMatchObject({ inDoubt: true, thresholdSeconds: 10 });
    expect(detail.inDoubt.stalledSeconds).toBeGreaterThanOrEqual(89);
    expect(detail.branches[0]).toMatchObject({ attempts: 3, lastError: "connection refused", vote: true });
    expect(detail.branches[0]!.nextRetryAt).not.toBeNull();
    expect(detail.actions.find((a) => a.action === "retry")?.allowed).toBe(true);
    expect(detail.actions.find((a) => a.action === "force-abort")?.allowed).toBe(false);
  });

  it("is null for an unknown id", async () => {
    expect(await getTransactionDetail(env.prisma, randomUUID())).toBeNull();
  });
});
