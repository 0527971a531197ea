// Overview metrics against a real coordinator log: the time series counts exactly the
// transactions that ended in each bucket, latency percentiles come from start to end,
// and in-doubt and shard health follow the log and the shards table.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { getOverviewMetrics } from "./metrics";

let env: TestEnv;
/** A live-looking owner, so the engine's recovery leaves the synthetic open rows alone. */
const PARKED = randomUUID();

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 10 });
  // An engine registers the shards and stamps last_seen_at on its first reconciliation.
  const engine = await env.engine();
  await engine.stop();
  await env.db.pool.query(
    `INSERT INTO engine_instances (id, host, pid, lease_expires_at) VALUES ($1, 'parked-by-test', 0, now() + interval '1 day')`,
    [PARKED],
  );
});
afterAll(async () => env?.cleanup());

/** A finished transaction that ended at `endedAt` after running for `latencyMs`. */
async function finished(outcome: "COMMITTED" | "ABORTED", endedAt: Date, latencyMs: number): Promise<void> {
  await env.db.pool.query(
    `INSERT INTO transactions (id, label, status, outcome, started_at, deadline_at, ended_at, updated_at)
     VALUES ($1, 'm', $2::"TxStatus", $2::"TxStatus", $3::timestamptz - make_interval(secs => $4 / 1000.0), $3, $3, $3)`,
    [randomUUID(), outcome, endedAt, latencyMs],
  );
}

async function open(status: string, stalledSeconds: number): Promise<void> {
  await env.db.pool.query(
    `INSERT INTO transactions (id, label, status, coordinator_id, started_at, deadline_at, updated_at)
     VALUES ($1, 'm', $2::"TxStatus", $3, now() - make_interval(secs => $4), now() + interval '1 min', now() - make_interval(secs => $4))`,
    [randomUUID(), status, PARKED, stalledSeconds],
  );
}

describe("overview metrics", () => {
  it("buckets commits, aborts and commit latency by end time over the window", async () => {
    // 100 commits with latencies 1..100 ms and 7 aborts, all ending in the middle of the
    // minute bucket before last; one commit long before the window.
    const end = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 90_000);
    for (let i = 1; i <= 100; i++) await finished("COMMITTED", end, i);
    for (let i = 0; i < 7; i++) await finished("ABORTED", end, 5);
    await finished("COMMITTED", new Date(Date.now() - 3_600_000), 1);

    const m = await getOverviewMetrics(env.prisma, { windowSeconds: 600, bucketSeconds: 60 });
    expect(m.buckets).toHaveLength(10);
    for (let i = 1; i < m.buckets.length; i++) expect(m.buckets[i]!.t - m.buckets[i - 1]!.t).toBe(60_000);
    const busy = m.buckets.filter((b) => b.commits > 0);
    expect(busy).toHaveLength(1);
    const [bucket] = busy;
    expect(bucket).toMatchObject({ commits: 100, aborts: 7 });
    expect(bucket!.commitsPerSecond).toBeCloseTo(100 / 60);
    expect(bucket!.abortsPerSecond).toBeCloseTo(7 / 60);
    // percentile_cont over 1..100 ms: 50.5 and 99.01.
    expect(bucket!.p50Ms).toBeCloseTo(50.5, 1);
    expect(bucket!.p99Ms).toBeCloseTo(99.01, 1);
    expect(m.buckets.filter((b) => b.commits === 0).every((b) => b.p50Ms === null && b.p99Ms === null)).toBe(true);
    // The newest bucket is the last complete one: it ends at or before now.
    expect(m.buckets.at(-1)!.t + 60_000).toBeLessThanOrEqual(Date.parse(m.at) + 1_000);
  });

  it("counts in-flight transactions by state and in-doubt ones with the oldest stall", async () => {
    const before = await getOverviewMetrics(env.prisma);
    await open("ACTIVE", 3600); // running, never in doubt however old
    await open("PREPARING", 2); // too fresh to be in doubt
    await open("COMMITTING", 45);
    await open("ABORTING", 300);
    const m = await getOverviewMetrics(env.prisma);
    expect(m.inFlight.total - before.inFlight.total).toBe(4);
    expect(m.inFlight.byState.ACTIVE - before.inFlight.byState.ACTIVE).toBe(1);
    expect(m.inDoubt.count - before.inDoubt.count).toBe(2);
    expect(m.inDoubt.oldestSeconds).toBeGreaterThanOrEqual(300);
    expect(m.inDoubt.thresholdSeconds).toBe(10);
  });

  it("reports each shard's health and unresolved branches", async () => {
    const id = randomUUID();
    await env.db.pool.query(
      `INSERT INTO transactions (id, label, status, coordinator_id, deadline_at) VALUES ($1, 'm', 'PREPARING', $2, now() + interval '1 min')`,
      [id, PARKED],
    );
    await env.db.pool.query(`INSERT INTO branches (tx_id, shard, gid, status) VALUES ($1, 'shard-a', $2, 'ACTIVE')`, [
      id,
      `cohort:${id}:shard-a`,
    ]);
    let m = await getOverviewMetrics(env.prisma);
    expect(m.shards.map((s) => [s.name, s.state])).toEqual([
      ["shard-a", "up"],
      ["shard-b", "up"],
    ]);
    expect(m.shards[0]!.openBranches).toBeGreaterThanOrEqual(1);

    await env.db.pool.query(`UPDATE shards SET last_error = 'connection refused' WHERE name = 'shard-b'`);
    await env.db.pool.query(`UPDATE shards SET last_seen_at = now() - interval '5 min' WHERE name = 'shard-a'`);
    m = await getOverviewMetrics(env.prisma);
    expect(m.shards.map((s) => [s.name, s.state, s.lastError])).toEqual([
      ["shard-a", "stale", null],
      ["shard-b", "down", "connection refused"],
    ]);
  });
});
