"use client";
// The Ring page: the ring drawn, the shares table, what-if and the rebalance. Server data
// lives in the TanStack Query cache only: rebalance progress events from the `ring` room
// are written into it (setQueryData), and everything else they imply (accounts per shard)
// is refetched, throttled.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { apiFetch } from "@/components/http/apiFetch";
import { useLiveSocket } from "@/components/live/useLiveSocket";
import { useThrottledInvalidate } from "@/components/live/useThrottledInvalidate";
import type { LiveRingEvent } from "@/server/live/protocol";
import { percent, shardColors } from "./format";
import { RebalancePanel } from "./RebalancePanel";
import styles from "./ring.module.css";
import { RingChart } from "./RingChart";
import { SharesTable } from "./SharesTable";
import { RING_KEY, WHAT_IF_KEY, type RingChangeInput, type RingOverview, type RunView, type WhatIfView } from "./types";
import { WhatIfPanel } from "./WhatIfPanel";
import { PendingNote } from "@/components/live/PendingNote";

const ROOMS = ["ring"] as const;

export function RingView({ initial, canAdmin }: { initial: RingOverview | null; canAdmin: boolean }) {
  const queryClient = useQueryClient();
  const ring = useQuery({
    queryKey: RING_KEY,
    queryFn: () => apiFetch<RingOverview>("/api/ring"),
    ...(initial ? { initialData: initial } : {}),
    // Events keep it current; polling is the fallback for a socket that is down mid-run.
    refetchInterval: (q) => (q.state.data?.run?.status === "RUNNING" ? 3_000 : 30_000),
  });
  // The change being previewed is UI state; its result is server data, in the cache.
  const [previewed, setPreviewed] = useState<RingChangeInput | null>(null);
  const whatIf = useQuery({
    queryKey: [...WHAT_IF_KEY, previewed],
    queryFn: () => apiFetch<WhatIfView>("/api/ring/what-if", { query: previewed! }),
    enabled: previewed !== null,
    staleTime: Infinity,
    retry: false,
  });

  const refetchRing = useThrottledInvalidate(RING_KEY, 1_000);
  useLiveSocket({
    rooms: ROOMS,
    onRingEvent: (event) => {
      if (event.type === "ring.rebalance") queryClient.setQueryData<RingOverview>(RING_KEY, (old) => withProgress(old, event));
      else void queryClient.invalidateQueries({ queryKey: WHAT_IF_KEY });
      refetchRing();
    },
    onResync: refetchRing,
  });

  const data = ring.data;
  const colors = useMemo(
    () => shardColors([...(data?.shards.map((s) => s.name) ?? []), ...(whatIf.data?.after.members.map((m) => m.name) ?? [])]),
    [data, whatIf.data],
  );

  if (ring.isPending) return <PendingNote query={ring} what="the ring" />;
  if (ring.isError) return <p className="alert">Could not load the ring: {ring.error.message}</p>;
  const ringData = ring.data;
  const preview = previewed ? whatIf.data : undefined;

  const startRebalance = async (view: WhatIfView, reason: string) => {
    await apiFetch("/api/ring/rebalance", {
      method: "POST",
      body: { change: view.change, expectedVersion: view.fromVersion, reason },
    });
    setPreviewed(null);
    await queryClient.invalidateQueries({ queryKey: RING_KEY });
  };
  const actOnRun = async (run: RunView, action: "cancel" | "resume", reason: string) => {
    await apiFetch(`/api/ring/runs/${run.id}/${action}`, { method: "POST", body: { reason } });
    await queryClient.invalidateQueries({ queryKey: RING_KEY });
  };

  return (
    <div className="stack">
      <p className="muted" data-testid="ring-version">
        Version {ringData.version} · {ringData.members.length} shard(s) on the ring · {ringData.pointCount} virtual nodes · made
        by {ringData.createdBy}: {ringData.reason}
      </p>
      <div className={styles.layout}>
        <section className="panel">
          <div className="panel-head">
            <h2>Ring</h2>
            <span className="panel-meta">hover a range, a point or an account</span>
          </div>
          <RingChart ranges={ringData.ranges} samples={ringData.samples} colors={colors} moved={preview?.movedRanges ?? null} />
          <div className={styles.legend}>
            {[...colors].map(([name, color]) => {
              const shard = ringData.shards.find((s) => s.name === name);
              return (
                <span key={name}>
                  <span className={styles.swatch} style={{ background: color }} />
                  {name}
                  {shard?.onRing ? ` ${percent(shard.ringShare)}` : " (not on the ring)"}
                </span>
              );
            })}
          </div>
        </section>
        <div className="stack">
          <SharesTable ring={ringData} colors={colors} />
          <RebalancePanel run={ringData.run} runs={ringData.runs} canAdmin={canAdmin} onAction={actOnRun} />
        </div>
      </div>
      <WhatIfPanel
        ring={ringData}
        colors={colors}
        canAdmin={canAdmin}
        preview={{ data: preview, pending: whatIf.isFetching, error: whatIf.error }}
        onPreview={setPreviewed}
        onStart={startRebalance}
      />
    </div>
  );
}

/** A progress event applied to the cached overview: the run's counts move without a refetch. */
function withProgress(
  old: RingOverview | undefined,
  e: Extract<LiveRingEvent, { type: "ring.rebalance" }>,
): RingOverview | undefined {
  if (!old) return old;
  const patch = (run: RunView): RunView => {
    if (run.id !== e.runId) return run;
    // A refetch may already hold newer counts than a (throttled) event that arrives after it.
    if (e.status === run.status && e.moved + e.skipped < run.moved + run.skipped) return run;
    return { ...run, moved: e.moved, skipped: e.skipped, total: e.total, cursor: e.cursor, status: e.status };
  };
  return { ...old, run: old.run ? patch(old.run) : old.run, runs: old.runs.map(patch) };
}
