"use client";
// The locks a transaction holds, for its detail page: <TxLocks txId={id} />. Polled while
// on screen; a finished transaction holds none (its locks go with its outcome).
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import type { LockListPage } from "@/server/ops/locks";
import { formatSpan, formatTtl } from "./format";
import { lockFiltersHref } from "./LockFilters";
import styles from "./locks.module.css";
import { fetchLockPage, POLL_MS, txLocksKey } from "./queries";
import { useRedisNow } from "./useRedisNow";
import { PendingNote } from "@/components/live/PendingNote";

export interface TxLocksProps {
  txId: string;
  /** From locksHeldBy() on the server, to render without a round trip. */
  initial?: LockListPage;
  /** Stop polling (e.g. once the transaction has ended). */
  live?: boolean;
}

export function TxLocks({ txId, initial, live = true }: TxLocksProps) {
  const query = useQuery({
    queryKey: txLocksKey(txId),
    queryFn: ({ signal }) => fetchLockPage({ owner: txId }, null, signal),
    ...(initial ? { initialData: initial } : {}),
    refetchInterval: live ? POLL_MS : false,
  });
  const now = useRedisNow(query.data?.now, query.dataUpdatedAt);
  const locks = query.data?.locks ?? [];
  return (
    <section className="panel" data-testid="tx-locks">
      <div className="panel-head">
        <h2>Locks held</h2>
        <span className="panel-meta">
          <Link href={lockFiltersHref({ owner: txId })}>on the Locks page</Link>
        </span>
      </div>
      {query.isPending && <PendingNote query={query} what="its locks" />}
      {query.isError && <p className="alert">Could not load its locks: {query.error.message}</p>}
      {query.data && locks.length === 0 && <p className="muted">It holds no lock now.</p>}
      {query.data && locks.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Key</th>
              <th>Mode</th>
              <th>Token</th>
              <th>Age</th>
              <th>TTL left</th>
              <th>Waiters</th>
            </tr>
          </thead>
          <tbody>
            {locks.map((l) => (
              <tr key={`${l.key}\u0000${l.token}`} data-testid="tx-lock-row" data-key={l.key}>
                <td className={styles.key}>
                  <Link href={lockFiltersHref({ prefix: l.key })}>{l.key}</Link>
                </td>
                <td>{l.mode}</td>
                <td className="mono">{l.token}</td>
                <td>{formatSpan((now ?? query.data.now) - l.acquiredAt)}</td>
                <td>{formatTtl(l.expiresAt - (now ?? query.data.now))}</td>
                <td>{l.waiting}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
