"use client";
// One transaction: what the coordinator log says about it, kept current by its `tx:<id>`
// room (state changes) and, while unfinished, by polling (phase-two retries change
// branches without changing the transaction's state, so they send no event).
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useMemo } from "react";
import "./transactions.css";
import { apiFetch } from "@/components/http/apiFetch";
import { ConnectionBadge } from "@/components/live/ConnectionBadge";
import { useLiveSocket } from "@/components/live/useLiveSocket";
import { useThrottledInvalidate } from "@/components/live/useThrottledInvalidate";
import { txRoom } from "@/server/live/protocol";
import type { BranchView, TxDetail } from "@/server/transactions/types";
import { formatDateTime, formatDuration } from "./format";
import { StatusTag } from "./StatusTag";
import { TxLocks } from "@/components/locks/TxLocks";
import { TransactionActions } from "./TransactionActions";
import { TransactionTimeline } from "./TransactionTimeline";
import { useNow } from "./useNow";

/** The same key the in-doubt resolution dialog invalidates after an action. */
export const detailQueryKey = (id: string) => ["transaction", id] as const;

const POLL_UNFINISHED_MS = 5_000;

export function TransactionDetailView({ initial, canAct }: { initial: TxDetail; canAct: boolean }) {
  const id = initial.id;
  const queryKey = useMemo(() => detailQueryKey(id), [id]);
  const query = useQuery({
    queryKey,
    queryFn: ({ signal }) => apiFetch<TxDetail>(`/api/transactions/${id}`, { signal }),
    initialData: initial,
    initialDataUpdatedAt: Date.parse(initial.at),
    refetchInterval: (q) => (q.state.data?.endedAt ? false : POLL_UNFINISHED_MS),
  });
  const invalidate = useThrottledInvalidate(queryKey, 250);
  const rooms = useMemo(() => [txRoom(id)], [id]);
  const connection = useLiveSocket({ rooms, onTxEvents: invalidate, onResync: invalidate });
  const tx = query.data;

  return (
    <div className="stack">
      <header className="tx-head">
        <h1 className="page-title">
          Transaction <span className="mono tx-id">{tx.id}</span>
        </h1>
        <StatusTag status={tx.status} />
        <ConnectionBadge connection={connection} />
      </header>
      {query.isError && (
        <p className="alert" role="alert">
          Could not refresh: {query.error.message} (showing the last known state)
        </p>
      )}
      {tx.inDoubt.inDoubt && (
        <p className="alert alert-warn" role="status" data-testid="tx-in-doubt">
          In doubt: no progress logged for <Elapsed since={tx.inDoubt.lastProgressAt} serverNow={tx.at} /> (more than{" "}
          {formatDuration(tx.inDoubt.thresholdSeconds * 1000)}). Its prepared branches hold row locks and hold back VACUUM on
          their shards until it is resolved. <Link href="/in-doubt">All in-doubt transactions</Link>
        </p>
      )}
      <Summary tx={tx} />
      {canAct && <TransactionActions txId={tx.id} actions={tx.actions} queryKey={queryKey} />}
      <Branches branches={tx.branches} serverNow={tx.at} />
      <TxLocks txId={tx.id} live={!tx.endedAt} />
      <TransactionTimeline records={tx.timeline} truncated={tx.timelineTruncated} />
    </div>
  );
}

function Summary({ tx }: { tx: TxDetail }) {
  const since = (iso: string | null) => (iso ? ` (+${formatDuration(Date.parse(iso) - Date.parse(tx.startedAt))})` : "");
  const rows: [string, React.ReactNode][] = [
    ["Label", tx.label],
    ["State", tx.status],
    ["Decision", tx.decision ?? "none yet"],
    [
      "Coordinator",
      tx.coordinatorId ? <span className="mono">{tx.coordinatorId}</span> : "none (an operator's decision awaits an engine)",
    ],
    ["Started", <Time key="s" iso={tx.startedAt} />],
    ["Deadline", <Time key="d" iso={tx.deadlineAt} />],
    ["Decided", tx.decidedAt ? <Time key="c" iso={tx.decidedAt} suffix={since(tx.decidedAt)} /> : "—"],
    ["Ended", tx.endedAt ? <Time key="e" iso={tx.endedAt} suffix={since(tx.endedAt)} /> : "—"],
  ];
  if (tx.abortReason) rows.push(["Abort reason", tx.abortReason]);
  return (
    <section className="panel" aria-label="Summary">
      <dl className="facts" data-testid="tx-summary">
        {rows.map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Time({ iso, suffix = "" }: { iso: string; suffix?: string }) {
  return (
    <>
      <time dateTime={iso} suppressHydrationWarning>
        {formatDateTime(iso)}
      </time>
      {suffix}
    </>
  );
}

/** Ticks on its own, so the clock re-renders a few characters rather than the whole page. */
function Elapsed({ since, serverNow }: { since: string; serverNow: string }) {
  const now = useNow(serverNow);
  return <>{formatDuration(now - Date.parse(since))}</>;
}

function RetryCountdown({ at, serverNow }: { at: string; serverNow: string }) {
  const now = useNow(serverNow);
  const left = Date.parse(at) - now;
  return <span className="muted">{left > 0 ? `in ${formatDuration(left)}` : "due"}</span>;
}

function Branches({ branches, serverNow }: { branches: BranchView[]; serverNow: string }) {
  return (
    <section className="panel" aria-labelledby="tx-branches-title">
      <header className="panel-head">
        <h2 id="tx-branches-title">Branches</h2>
        <span className="muted panel-meta">one per shard, prepared with PREPARE TRANSACTION</span>
      </header>
      {branches.length === 0 ? (
        <p className="muted">No branches yet: the transaction has not started to prepare.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="tx-branches">
            <thead>
              <tr>
                <th>Shard</th>
                <th>State</th>
                <th>Vote</th>
                <th className="num">Attempts</th>
                <th>Last error</th>
                <th>Next retry</th>
              </tr>
            </thead>
            <tbody>
              {branches.map((b) => (
                <tr key={b.shard} data-testid="tx-branch" data-shard={b.shard}>
                  <td title={b.gid}>
                    <Link href={`/transactions?shard=${encodeURIComponent(b.shard)}`}>{b.shard}</Link>
                  </td>
                  <td>
                    <StatusTag status={b.status} />
                  </td>
                  <td>{b.vote === null ? "—" : b.vote ? "yes" : "no"}</td>
                  <td className="num">{b.attempts}</td>
                  <td className={b.lastError ? "tx-error" : "muted"}>{b.lastError ?? "—"}</td>
                  <td>
                    {b.nextRetryAt ? (
                      <>
                        <time dateTime={b.nextRetryAt} suppressHydrationWarning>
                          {formatDateTime(b.nextRetryAt)}
                        </time>{" "}
                        <RetryCountdown at={b.nextRetryAt} serverNow={serverNow} />
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
