"use client";
// One lock opened up: every holder (a shared lock has several), the waiters in the order
// they will be served, and the last operator release.
import { useQuery } from "@tanstack/react-query";
import type { LockDetail } from "@/server/ops/locks";
import { formatSpan, formatTtl } from "./format";
import { HolderCell } from "./HolderCell";
import styles from "./locks.module.css";
import { fetchLockDetail, lockDetailKey, POLL_MS } from "./queries";
import { useRedisNow } from "./useRedisNow";
import { PendingNote } from "@/components/live/PendingNote";

export function LockDetailPanel({ lockKey }: { lockKey: string }) {
  const query = useQuery({
    queryKey: lockDetailKey(lockKey),
    queryFn: ({ signal }) => fetchLockDetail(lockKey, signal),
    refetchInterval: POLL_MS,
  });
  const now = useRedisNow(query.data?.now, query.dataUpdatedAt);
  if (query.isPending) return <PendingNote query={query} what="the lock" loading="Reading the lock…" />;
  if (query.isError) return <p className="alert">Could not read the lock: {query.error.message}</p>;
  return <LockDetailBody detail={query.data} now={now ?? query.data.now} />;
}

function LockDetailBody({ detail, now }: { detail: LockDetail; now: number }) {
  return (
    <div className={styles.detail} data-testid="lock-detail">
      <h3>Holders</h3>
      {detail.holders.length === 0 ? (
        <p className="muted">Nobody holds it now.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Transaction</th>
              <th>Mode</th>
              <th>Token</th>
              <th>Held for</th>
              <th>TTL left</th>
              <th>Host</th>
            </tr>
          </thead>
          <tbody>
            {detail.holders.map((h) => (
              <tr key={h.token}>
                <td>
                  <HolderCell owner={h.owner} tx={h.holderTx} />
                  {h.prepared && (
                    <div className="tag tag-warn" title="Its prepared branch holds the rows in PostgreSQL">
                      prepared on {[...h.prepared.preparedOn, ...h.prepared.unconfirmedOn].join(", ")}
                    </div>
                  )}
                </td>
                <td>{h.mode}</td>
                <td className="mono">{h.token}</td>
                <td>{formatSpan(now - h.acquiredAt)}</td>
                <td>{formatTtl(h.expiresAt - now)}</td>
                <td className="muted">{h.host}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3>Waiters, in the order they will be served</h3>
      {detail.waiters.length === 0 ? (
        <p className="muted" data-testid="no-waiters">
          Nobody waits for it.
        </p>
      ) : (
        <table className="table" data-testid="lock-waiters">
          <thead>
            <tr>
              <th>#</th>
              <th>Transaction</th>
              <th>Mode</th>
              <th>Waiting for</th>
              <th>Next heartbeat due</th>
              <th>Host</th>
            </tr>
          </thead>
          <tbody>
            {detail.waiters.map((w, i) => (
              <tr key={w.waiterId}>
                <td>{i + 1}</td>
                <td>
                  <HolderCell owner={w.owner} tx={w.tx} />
                  {w.victim && <span className="tag tag-bad">deadlock victim</span>}
                </td>
                <td>{w.mode}</td>
                <td>{formatSpan(now - w.enqueuedAt)}</td>
                <td>{formatTtl(w.heartbeatDeadline - now)}</td>
                <td className="muted">{w.host}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <p className="muted">
        Fence: <span className="mono">{detail.fence}</span> (the last token issued; a shard refuses writes under older ones).
        {detail.lastForcedRelease && (
          <>
            {" "}
            Last released by an operator: <strong>{detail.lastForcedRelease.actor}</strong>,{" "}
            {formatSpan(now - detail.lastForcedRelease.at)} ago, token {detail.lastForcedRelease.token} of{" "}
            {detail.lastForcedRelease.owner}: “{detail.lastForcedRelease.reason}”.
          </>
        )}
      </p>
    </div>
  );
}
