"use client";
// The Overview: what is in flight and in doubt, throughput and commit latency over the last
// minutes, and shard health. One request (/api/metrics/overview) feeds it all; live
// transaction events trigger a throttled refetch so counts move with the workload, and
// polling slides the window and covers a dead socket.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import type { ReactNode } from "react";
import "./overview.css";
import { apiFetch } from "@/components/http/apiFetch";
import { ConnectionBadge } from "@/components/live/ConnectionBadge";
import { useLiveSocket } from "@/components/live/useLiveSocket";
import { useThrottledInvalidate } from "@/components/live/useThrottledInvalidate";
import { COLORS } from "@/components/charts/chartFormat";
import { TimeSeriesChart, type Series } from "@/components/charts/TimeSeriesChart";
import { formatDuration, formatInteger, formatRate } from "@/components/transactions/format";
import { TRANSACTIONS_ROOM } from "@/server/live/protocol";
import type { MetricsBucket, OverviewMetrics } from "@/server/stats/metrics";
import { SectionTiles } from "./SectionTiles";
import { ShardHealthPanel } from "./ShardHealthPanel";

export const OVERVIEW_METRICS_KEY = ["metrics", "overview"] as const;

const ROOMS = [TRANSACTIONS_ROOM];
/** Three small indexed queries per refresh; a busy event stream must not multiply them. */
const INVALIDATE_EVERY_MS = 2_000;
const REFETCH_LIVE_MS = 5_000;
const REFETCH_DISCONNECTED_MS = 3_000;
const CHART_HEIGHT = 220;
const NO_FIGURES = "No figures yet.";

/** Commits and aborts per second, one point per bucket. */
const THROUGHPUT: Series<MetricsBucket>[] = [
  { key: "commitsPerSecond", name: "commits/s", color: COLORS.ok, kind: "area" },
  { key: "abortsPerSecond", name: "aborts/s", color: COLORS.bad, kind: "area" },
];
/** Commit latency (begin to end record); a bucket without commits is a gap. */
const LATENCY: Series<MetricsBucket>[] = [
  { key: "p50Ms", name: "p50", color: COLORS.accent },
  { key: "p99Ms", name: "p99", color: COLORS.warn },
];

export function OverviewDashboard({ initial, staleSeconds }: { initial: OverviewMetrics | undefined; staleSeconds: number }) {
  const invalidate = useThrottledInvalidate(OVERVIEW_METRICS_KEY, INVALIDATE_EVERY_MS);
  const connection = useLiveSocket({ rooms: ROOMS, onTxEvents: invalidate, onResync: invalidate });
  const { data, error } = useQuery({
    queryKey: OVERVIEW_METRICS_KEY,
    queryFn: ({ signal }) => apiFetch<OverviewMetrics>("/api/metrics/overview", { signal }),
    initialData: initial,
    initialDataUpdatedAt: initial ? Date.parse(initial.at) : undefined,
    refetchInterval: connection.state === "live" ? REFETCH_LIVE_MS : REFETCH_DISCONNECTED_MS,
  });
  const windowText = data ? formatDuration(data.windowSeconds * 1000) : "";
  const buckets = data?.buckets ?? [];

  return (
    <div className="stack" data-testid="overview" data-at={data?.at}>
      <section className="panel" aria-labelledby="now-title">
        <header className="panel-head">
          <h2 id="now-title">Now</h2>
          <ConnectionBadge connection={connection} />
          {data && (
            <span className="muted panel-meta">
              as of{" "}
              <time dateTime={data.at} suppressHydrationWarning data-testid="overview-as-of">
                {new Date(data.at).toLocaleTimeString()}
              </time>
            </span>
          )}
        </header>
        {error && (
          <p className="alert" role="alert">
            Could not load the figures: {error.message}
            {data ? " (showing the last known values)" : ""}
          </p>
        )}
        <StatTiles data={data} />
      </section>

      <div className="chart-grid">
        <ChartPanel
          id="throughput"
          title="Commits and aborts per second"
          meta={data ? `last ${windowText}, ${data.bucketSeconds} s buckets` : ""}
        >
          <TimeSeriesChart
            data={buckets}
            timeKey="t"
            series={THROUGHPUT}
            height={CHART_HEIGHT}
            format={formatRate}
            tooltipFormat={(v) => `${formatRate(v)}/s`}
            yAxisWidth={44}
            empty={
              !data
                ? NO_FIGURES
                : buckets.every((b) => b.commits === 0 && b.aborts === 0)
                  ? "Nothing finished in this window."
                  : undefined
            }
          />
        </ChartPanel>
        <ChartPanel id="latency" title="Commit latency p50 / p99" meta={data ? `begin to end record, last ${windowText}` : ""}>
          <TimeSeriesChart
            data={buckets}
            timeKey="t"
            series={LATENCY}
            height={CHART_HEIGHT}
            format={formatDuration}
            yAxisWidth={64}
            dots
            empty={!data ? NO_FIGURES : buckets.every((b) => b.p50Ms === null) ? "Nothing committed in this window." : undefined}
          />
        </ChartPanel>
      </div>

      {data && <ShardHealthPanel shards={data.shards} at={data.at} staleSeconds={staleSeconds} />}
      <SectionTiles />
    </div>
  );
}

function ChartPanel(props: { id: string; title: string; meta: string; children: ReactNode }) {
  return (
    <section className="panel" aria-labelledby={`${props.id}-title`} data-testid={`${props.id}-chart`}>
      <header className="panel-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        <span className="muted panel-meta">{props.meta}</span>
      </header>
      {props.children}
    </section>
  );
}

/** The newest complete bucket, and the newest one with commits (for latency). */
function latest(buckets: MetricsBucket[]) {
  const last = buckets.at(-1);
  const withCommits = [...buckets].reverse().find((b) => b.p50Ms !== null);
  return { last, withCommits };
}

function StatTiles({ data }: { data: OverviewMetrics | undefined }) {
  const { last, withCommits } = latest(data?.buckets ?? []);
  const open = data?.inFlight.byState;
  const doubt = data?.inDoubt;
  return (
    <div className="stat-grid" aria-busy={!data}>
      <Stat
        name="in-flight"
        label="In flight"
        href="/transactions?state=open"
        value={data ? formatInteger(data.inFlight.total) : "–"}
        // The log records a transaction from its commit on (begin is lazy), so running ones
        // appear only on the live Transactions list; ACTIVE rows exist only from older versions.
        hint={
          open
            ? `${open.ACTIVE > 0 ? `active ${open.ACTIVE} · ` : ""}preparing ${open.PREPARING} · committing ${open.COMMITTING} · aborting ${open.ABORTING} (in the log from commit on)`
            : ""
        }
      />
      <Stat
        name="in-doubt"
        label="In doubt"
        href="/in-doubt"
        tone={doubt && doubt.count > 0 ? "bad" : undefined}
        value={doubt ? formatInteger(doubt.count) : "–"}
        hint={
          doubt
            ? doubt.oldestSeconds === null
              ? `none stalled over ${doubt.thresholdSeconds} s`
              : `oldest stalled ${formatDuration(doubt.oldestSeconds * 1000)}`
            : ""
        }
      />
      <Stat
        name="commits"
        label="Commits/s"
        tone="ok"
        value={last ? formatRate(last.commitsPerSecond) : "–"}
        hint={data ? `last ${data.bucketSeconds} s` : ""}
      />
      <Stat
        name="aborts"
        label="Aborts/s"
        tone={last && last.aborts > 0 ? "bad" : undefined}
        value={last ? formatRate(last.abortsPerSecond) : "–"}
        hint={data ? `last ${data.bucketSeconds} s` : ""}
      />
      <Stat
        name="latency"
        label="Commit latency"
        value={withCommits?.p50Ms != null ? formatDuration(withCommits.p50Ms) : "–"}
        hint={withCommits?.p99Ms != null ? `p50 · p99 ${formatDuration(withCommits.p99Ms)}` : "p50 · p99"}
      />
    </div>
  );
}

function Stat(props: {
  name: string;
  label: string;
  value: string;
  hint: string;
  tone?: "ok" | "bad" | undefined;
  href?: string;
}) {
  const body = (
    <>
      <div className="stat-label">{props.label}</div>
      <div className="stat-value" data-testid={`stat-${props.name}-value`}>
        {props.value}
      </div>
      <div className="stat-hint">{props.hint}</div>
    </>
  );
  const className = `stat${props.tone ? ` stat-${props.tone}` : ""}${props.href ? " stat-link" : ""}`;
  return props.href ? (
    <Link href={props.href} className={className} data-testid={`stat-${props.name}`}>
      {body}
    </Link>
  ) : (
    <div className={className} data-testid={`stat-${props.name}`}>
      {body}
    </div>
  );
}
