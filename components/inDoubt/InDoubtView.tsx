"use client";
// The in-doubt list, orphan prepared transactions and heuristic incidents. Refreshed on
// live transaction events (throttled) and every few seconds, since "stalled for" grows.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { apiFetch } from "@/components/http/apiFetch";
import { useLiveSocket } from "@/components/live/useLiveSocket";
import { useThrottledInvalidate } from "@/components/live/useThrottledInvalidate";
import { BulkPanel } from "./BulkPanel";
import { formatAge } from "./format";
import { OrphansPanel } from "./OrphansPanel";
import { ResolutionDialog } from "./ResolutionDialog";
import type { InDoubtPayload } from "./types";
import { PendingNote } from "@/components/live/PendingNote";

export const IN_DOUBT_KEY = ["in-doubt"] as const;

const CAUSE_LABELS = {
  "coordinator-lost": "coordinator lost",
  "shard-unreachable": "shard unreachable",
  "coordinator-stalled": "coordinator stalled",
  "phase2-dead-lettered": "phase 2 dead-lettered",
} as const;

export function InDoubtView({ canAct }: { canAct: boolean }) {
  const [resolving, setResolving] = useState<string | null>(null);
  const query = useQuery({
    queryKey: IN_DOUBT_KEY,
    queryFn: () => apiFetch<InDoubtPayload>("/api/in-doubt"),
    refetchInterval: 5_000,
  });
  const invalidate = useThrottledInvalidate(IN_DOUBT_KEY, 1_000);
  useLiveSocket({ rooms: ["transactions"], onTxEvents: invalidate, onResync: invalidate });

  if (query.isPending) return <PendingNote query={query} what="the in-doubt transactions" />;
  if (query.isError) return <p className="alert">Could not load the in-doubt transactions: {query.error.message}</p>;
  const data = query.data;

  return (
    <>
      <section className="panel" data-testid="in-doubt-panel">
        <div className="panel-head">
          <h2>In-doubt transactions</h2>
          <span className="panel-meta">
            {data.transactions.length} stalled for more than {formatAge(data.thresholdMs)}
          </span>
        </div>
        {data.transactions.length === 0 ? (
          <p className="muted">Nothing is in doubt.</p>
        ) : (
          <table className="table" data-testid="in-doubt-table">
            <thead>
              <tr>
                <th>Transaction</th>
                <th>State</th>
                <th>Decision</th>
                <th>Why</th>
                <th>Stalled for</th>
                <th>Shards</th>
                {canAct && <th />}
              </tr>
            </thead>
            <tbody>
              {data.transactions.map((tx) => (
                <tr key={tx.id} data-testid={`in-doubt-row-${tx.id}`}>
                  <td>
                    <Link href={`/transactions/${tx.id}`} className="mono">
                      {tx.id.slice(0, 13)}…
                    </Link>{" "}
                    <span className="muted">{tx.label}</span>
                  </td>
                  <td>{tx.status}</td>
                  <td>{tx.decision ?? <span className="muted">none</span>}</td>
                  <td>
                    <span className="tag">{CAUSE_LABELS[tx.cause]}</span> <span className="muted">{tx.why}</span>
                  </td>
                  <td>{formatAge(tx.stalledMs)}</td>
                  <td>{tx.shards.join(", ")}</td>
                  {canAct && (
                    <td>
                      <button type="button" className="button" onClick={() => setResolving(tx.id)}>
                        Resolve…
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {canAct && <BulkPanel />}

      <OrphansPanel orphans={data.orphans} shardErrors={data.shardErrors} canAct={canAct} />

      <section className="panel" data-testid="incidents-panel">
        <div className="panel-head">
          <h2>Heuristic incidents</h2>
          <span className="panel-meta">a shard resolved a prepared branch outside Cohort: check the data by hand</span>
        </div>
        {data.incidents.length === 0 ? (
          <p className="muted">No incidents.</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>When</th>
                <th>Transaction</th>
                <th>Shard</th>
                <th>What happened</th>
              </tr>
            </thead>
            <tbody>
              {data.incidents.map((i) => (
                <tr key={`${i.txId}-${i.shard}-${i.at}`}>
                  <td>{new Date(i.at).toLocaleString()}</td>
                  <td>
                    <Link href={`/transactions/${i.txId}`} className="mono">
                      {i.txId.slice(0, 13)}…
                    </Link>
                  </td>
                  <td>{i.shard}</td>
                  <td>
                    logged {i.detail?.decision}: {i.detail?.detail}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {resolving && <ResolutionDialog txId={resolving} onClose={() => setResolving(null)} />}
    </>
  );
}
