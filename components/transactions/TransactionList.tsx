"use client";
// The transaction list: keyset pages from /api/transactions in a TanStack infinite query,
// filters in the URL, rows patched live and new transactions merged on top (or counted
// while paused). The server renders the first page, which seeds the cache for its view.
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import "./transactions.css";
import { ConnectionBadge } from "@/components/live/ConnectionBadge";
import type { ListFilters } from "@/server/transactions/listParams";
import type { TxListPage } from "@/server/transactions/types";
import { formatDuration, formatTimeOfDay } from "./format";
import { allRows, type ListData, type ListPage, type ListRow } from "./listCache";
import { fetchListPage, listQueryKey } from "./listQuery";
import { StatusTag } from "./StatusTag";
import { TransactionFilters } from "./TransactionFilters";
import { filtersKey, readFilters } from "./urlFilters";
import { liveInserts, useListLive } from "./useListLive";
import { PendingNote } from "@/components/live/PendingNote";

export interface TransactionListProps {
  /** The canonical filter string the server rendered `initialPage` for. */
  initialKey: string;
  /** Absent when the server could not read it: the browser fetches (and reports) itself. */
  initialPage: TxListPage | undefined;
  /** When the server read initialPage (ISO), so the cache knows how fresh it is. */
  initialAt: string;
  shardNames: string[];
  pageSize: number;
}

export function TransactionList(props: TransactionListProps) {
  const searchParams = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const filters = useMemo(() => readFilters(searchParams), [searchParams]);
  const key = filtersKey(filters);
  const setFilters = (next: ListFilters) => {
    const query = filtersKey(next);
    router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
  };
  return (
    <>
      <TransactionFilters filters={filters} shardNames={props.shardNames} onChange={setFilters} />
      {/* Keyed by view: pausing, pending counts and scheduled refreshes belong to one view. */}
      <ListView key={key} viewKey={key} filters={filters} {...props} />
    </>
  );
}

function ListView({
  viewKey,
  filters,
  initialKey,
  initialPage,
  initialAt,
  pageSize,
}: TransactionListProps & { viewKey: string; filters: ListFilters }) {
  const queryKey = useMemo(() => listQueryKey(viewKey), [viewKey]);
  const seeded = viewKey === initialKey && initialPage !== undefined;
  const query = useInfiniteQuery<ListPage, Error, ListData, typeof queryKey, string | null>({
    queryKey,
    queryFn: ({ pageParam, signal }) => fetchListPage(filters, pageParam, signal),
    initialPageParam: null,
    getNextPageParam: (last) => last.nextCursor,
    ...(seeded
      ? { initialData: { pages: [initialPage], pageParams: [null] } as ListData, initialDataUpdatedAt: Date.parse(initialAt) }
      : {}),
  });
  const [paused, setPaused] = useState(false);
  const live = useListLive({ queryKey, filters, paused, pageSize });
  const rows = allRows(query.data);
  const showPause = liveInserts(filters);

  const togglePause = () => {
    if (paused && live.pendingCount > 0) live.showPending();
    setPaused(!paused);
  };

  return (
    <section className="panel tx-list" aria-labelledby="tx-list-title" data-testid="tx-list">
      <header className="panel-head">
        <h2 id="tx-list-title">Transactions</h2>
        <ConnectionBadge connection={live.connection} />
        {showPause && (
          <button
            type="button"
            className="button button-quiet"
            aria-pressed={paused}
            onClick={togglePause}
            data-testid="live-pause"
            title={paused ? "New transactions are counted but not inserted" : "New transactions are inserted at the top"}
          >
            {paused ? "▶ Resume live" : "❚❚ Pause live"}
          </button>
        )}
        <span className="muted panel-meta" data-testid="tx-row-count">
          {rows.length} shown{query.hasNextPage ? ", more below" : ""}
        </span>
      </header>
      {paused && live.pendingCount > 0 && (
        <button type="button" className="new-rows-bar" onClick={live.showPending} data-testid="new-transactions-bar">
          {live.pendingCount} new transaction{live.pendingCount === 1 ? "" : "s"} · show
        </button>
      )}
      {query.isError && (
        <p className="alert" role="alert">
          Could not load transactions: {query.error.message}
          {query.data ? " (showing what was loaded)" : ""}
        </p>
      )}
      {query.isPending ? (
        <PendingNote query={query} what="transactions" />
      ) : rows.length === 0 ? (
        <p className="muted" data-testid="tx-empty">
          No transactions match these filters.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="table tx-table">
            <thead>
              <tr>
                <th>Transaction</th>
                <th>Label</th>
                <th>State</th>
                <th>Shards</th>
                <th>Started</th>
                <th className="num">Duration</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <Row key={row.id} row={row} filters={filters} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {query.hasNextPage && (
        <div className="pager">
          <button
            type="button"
            className="button button-quiet"
            onClick={() => void query.fetchNextPage()}
            disabled={query.isFetchingNextPage}
            data-testid="load-more"
          >
            {query.isFetchingNextPage ? "Loading…" : filters.sort === "newest" ? "Load older" : "Load newer"}
          </button>
        </div>
      )}
    </section>
  );
}

function Row({ row, filters }: { row: ListRow; filters: ListFilters }) {
  // Rows stay where they are when they change state, so the list does not jump; a row
  // that left the state filtered for is dimmed until the next refetch drops it.
  const stale = Boolean(filters.state) && !matchesState(row.status, filters.state!);
  const classes = [row.arrivedLive ? "row-new" : "", stale ? "row-stale" : ""].filter(Boolean).join(" ");
  return (
    <tr className={classes || undefined} data-testid="tx-row" data-id={row.id} data-status={row.status}>
      <td>
        <Link href={`/transactions/${row.id}`} className="mono">
          {row.id}
        </Link>
      </td>
      <td>{row.label}</td>
      <td>
        <StatusTag status={row.status} />
      </td>
      <td className="muted">{row.shards.join(", ") || "—"}</td>
      <td>
        <time dateTime={row.startedAt} title={row.startedAt} suppressHydrationWarning>
          {formatTimeOfDay(row.startedAt)}
        </time>
      </td>
      <td className="num">{row.endedAt ? formatDuration(Date.parse(row.endedAt) - Date.parse(row.startedAt)) : "—"}</td>
    </tr>
  );
}

function matchesState(status: string, state: string): boolean {
  return state === "OPEN" ? status !== "COMMITTED" && status !== "ABORTED" : status === state;
}
