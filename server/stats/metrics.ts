// The Overview's numbers: throughput and commit latency over the last minutes, what is in
// flight and in doubt, and shard health. Each query stays on an index whatever the size
// of the log: the time series on transactions_ended_at_idx (0004_metrics), the in-flight
// and in-doubt figures on the partial indexes WHERE ended_at IS NULL, the shards on their
// own small table plus branches_unresolved_idx.
import type { PrismaClient } from "../db/prisma";
import { sql } from "../db/sql";
import { queryRows } from "../engine/log/db";
import { inDoubtStateSql } from "../engine/log/stateSql";
import { OPEN_STATES, type OpenTxStatus } from "../engine/log/states";
import { DEFAULT_IN_DOUBT_MS } from "../ops/inDoubt";

export type { OpenTxStatus };

export const METRICS_WINDOW_SECONDS = 600;
export const METRICS_BUCKET_SECONDS = 10;
/**
 * The engine reconciles every shard every 15 s and stamps last_seen_at on success
 * (server/engine/engine.ts); missing four rounds in a row means nobody can reach it.
 */
export const SHARD_STALE_SECONDS = 60;

export interface MetricsBucket {
  /** Bucket start, epoch milliseconds. */
  t: number;
  commits: number;
  aborts: number;
  commitsPerSecond: number;
  abortsPerSecond: number;
  /** Commit latency (start to end record) of the bucket's commits; null without commits. */
  p50Ms: number | null;
  p99Ms: number | null;
}

export type ShardHealthState = "up" | "stale" | "down";

export interface ShardHealth {
  name: string;
  weight: number;
  state: ShardHealthState;
  lastSeenAt: string | null;
  lastError: string | null;
  /** Branches on this shard with no outcome yet: running, or prepared and waiting. */
  openBranches: number;
}

export interface OverviewMetrics {
  /** Server time the figures were taken. */
  at: string;
  windowSeconds: number;
  bucketSeconds: number;
  /** Complete buckets only, oldest first, gaps filled with zeros: a partial bucket would dip. */
  buckets: MetricsBucket[];
  inFlight: { total: number; byState: Record<OpenTxStatus, number> };
  inDoubt: {
    count: number;
    /** Seconds since the longest-stalled in-doubt transaction last progressed; null when none. */
    oldestSeconds: number | null;
    thresholdSeconds: number;
  };
  shards: ShardHealth[];
}

interface BucketRow {
  t: number;
  commits: number;
  aborts: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

type OpenRow = {
  status: OpenTxStatus;
  total: number;
  in_doubt: number;
  oldest_stalled_s: number | null;
};

interface ShardRow {
  name: string;
  weight: number;
  last_seen_at: Date | null;
  last_error: string | null;
  seen_ago_s: number | null;
  open_branches: number;
}

export interface MetricsOptions {
  windowSeconds?: number;
  bucketSeconds?: number;
  inDoubtAfterMs?: number;
}

export async function getOverviewMetrics(prisma: PrismaClient, opts: MetricsOptions = {}): Promise<OverviewMetrics> {
  const windowSeconds = opts.windowSeconds ?? METRICS_WINDOW_SECONDS;
  const bucketSeconds = opts.bucketSeconds ?? METRICS_BUCKET_SECONDS;
  const inDoubtAfterMs = opts.inDoubtAfterMs ?? DEFAULT_IN_DOUBT_MS;
  const [buckets, open, shards] = await Promise.all([
    readBuckets(prisma, windowSeconds, bucketSeconds),
    readOpen(prisma, inDoubtAfterMs),
    readShards(prisma),
  ]);

  const byState = Object.fromEntries(OPEN_STATES.map((s) => [s, 0])) as Record<OpenTxStatus, number>;
  let inDoubtCount = 0;
  let oldest: number | null = null;
  for (const row of open) {
    byState[row.status] = row.total;
    inDoubtCount += row.in_doubt;
    if (row.oldest_stalled_s !== null) oldest = Math.max(oldest ?? 0, row.oldest_stalled_s);
  }

  return {
    at: new Date().toISOString(),
    windowSeconds,
    bucketSeconds,
    buckets: buckets.map((b) => ({
      t: b.t,
      commits: b.commits,
      aborts: b.aborts,
      commitsPerSecond: b.commits / bucketSeconds,
      abortsPerSecond: b.aborts / bucketSeconds,
      p50Ms: b.p50_ms,
      p99Ms: b.p99_ms,
    })),
    inFlight: { total: Object.values(byState).reduce((a, b) => a + b, 0), byState },
    inDoubt: {
      count: inDoubtCount,
      oldestSeconds: oldest === null ? null : Math.floor(oldest),
      thresholdSeconds: inDoubtAfterMs / 1000,
    },
    shards: shards.map((s) => ({
      name: s.name,
      weight: s.weight,
      state: s.last_error ? "down" : s.seen_ago_s === null || s.seen_ago_s > SHARD_STALE_SECONDS ? "stale" : "up",
      lastSeenAt: s.last_seen_at?.toISOString() ?? null,
      lastError: s.last_error,
      openBranches: s.open_branches,
    })),
  };
}

function readBuckets(prisma: PrismaClient, windowSeconds: number, bucketSeconds: number): Promise<BucketRow[]> {
  // Buckets are aligned to the epoch, so consecutive refreshes agree on their edges. The
  // range bound on ended_at is what lets transactions_ended_at_idx serve the scan; the
  // latency percentiles are taken over intervals and converted only per bucket.
  return prisma.$queryRaw<BucketRow[]>`
    WITH agg AS (
      SELECT date_bin(make_interval(secs => ${bucketSeconds}), t.ended_at, 'epoch') AS bucket,
             count(*) FILTER (WHERE t.outcome = 'COMMITTED') AS commits,
             count(*) FILTER (WHERE t.outcome = 'ABORTED') AS aborts,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ended_at - t.started_at)
               FILTER (WHERE t.outcome = 'COMMITTED') AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY t.ended_at - t.started_at)
               FILTER (WHERE t.outcome = 'COMMITTED') AS p99
        FROM transactions t
       WHERE t.ended_at >= date_bin(make_interval(secs => ${bucketSeconds}), now(), 'epoch') - make_interval(secs => ${windowSeconds})
         AND t.ended_at < date_bin(make_interval(secs => ${bucketSeconds}), now(), 'epoch')
       GROUP BY 1)
    SELECT (extract(epoch FROM s.bucket) * 1000)::float8 AS t,
           COALESCE(a.commits, 0)::int AS commits,
           COALESCE(a.aborts, 0)::int AS aborts,
           (extract(epoch FROM a.p50) * 1000)::float8 AS p50_ms,
           (extract(epoch FROM a.p99) * 1000)::float8 AS p99_ms
      FROM generate_series(
             date_bin(make_interval(secs => ${bucketSeconds}), now(), 'epoch') - make_interval(secs => ${windowSeconds}),
             date_bin(make_interval(secs => ${bucketSeconds}), now(), 'epoch') - make_interval(secs => ${bucketSeconds}),
             make_interval(secs => ${bucketSeconds})) AS s(bucket)
      LEFT JOIN agg a ON a.bucket = s.bucket
     ORDER BY s.bucket`;
}

function readOpen(prisma: PrismaClient, inDoubtAfterMs: number): Promise<OpenRow[]> {
  // In doubt by the rule of the in-doubt list (server/ops/inDoubt.ts): past the point where
  // branches may be prepared and no state change logged for longer than the threshold.
  const inDoubt = sql`${inDoubtStateSql()} AND updated_at < now() - make_interval(secs => ${inDoubtAfterMs / 1000})`;
  return queryRows<OpenRow>(
    prisma,
    sql`
    SELECT status::text AS status,
           count(*)::int AS total,
           count(*) FILTER (WHERE ${inDoubt})::int AS in_doubt,
           extract(epoch FROM now() - min(updated_at) FILTER (WHERE ${inDoubt}))::float8 AS oldest_stalled_s
      FROM transactions
     WHERE ended_at IS NULL
     GROUP BY status`,
  );
}

function readShards(prisma: PrismaClient): Promise<ShardRow[]> {
  return prisma.$queryRaw<ShardRow[]>`
    SELECT s.name, s.weight, s.last_seen_at, s.last_error,
           extract(epoch FROM now() - s.last_seen_at)::float8 AS seen_ago_s,
           (SELECT count(*) FROM branches b WHERE b.shard = s.name AND b.resolved_at IS NULL)::int AS open_branches
      FROM shards s
     ORDER BY s.name`;
}
