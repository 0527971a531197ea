"use client";
// The Locks page: held locks with their holders, the wait-for graph, and the operator
// release. Server data lives in the TanStack Query cache only and is polled every 2 s
// (see queries.ts for why there is no event stream); ages and TTLs tick in between.
import { useInfiniteQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { LockRow } from "@/server/ops/locks";
import { LockFilters, lockFiltersHref, type LockFilterValues } from "./LockFilters";
import { LockTable } from "./LockTable";
import { fetchLockPage, lockListKey, POLL_MS } from "./queries";
import { ReleaseDialog } from "./ReleaseDialog";
import { useRedisNow } from "./useRedisNow";
import { WaitForGraphPanel } from "./WaitForGraph";
import { PendingNote } from "@/components/live/PendingNote";

export function LocksView({ filters, canRelease }: { filters: LockFilterValues; canRelease: boolean }) {
  const router = useRouter();
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [releasing, setReleasing] = useState<LockRow | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const list = useInfiniteQuery({
    queryKey: lockListKey(filters),
    queryFn: ({ pageParam, signal }) => fetchLockPage(filters, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval: POLL_MS,
  });
  const now = useRedisNow(list.data?.pages[0]?.now, list.dataUpdatedAt);
  const locks = list.data?.pages.flatMap((p) => p.locks) ?? [];

  const toggle = (key: string) =>
    setExpanded((open) => {
      const next = new Set(open);
      if (!next.delete(key)) next.add(key);
      return next;
    });

  return (
    <>
      <section className="panel" data-testid="locks-panel">
        <div className="panel-head">
          <h2>Held locks</h2>
          <span className="panel-meta">
            {list.data ? `${locks.length}${list.hasNextPage ? "+" : ""} held · ` : ""}refreshed every {POLL_MS / 1000} s
          </span>
        </div>
        <LockFilters filters={filters} onChange={(next) => router.replace(lockFiltersHref(next), { scroll: false })} />
        {notice && (
          <p className="notice" role="status" data-testid="release-notice">
            {notice}
          </p>
        )}
        {list.isPending && <PendingNote query={list} what="the locks" />}
        {list.isError && <p className="alert">Could not load the locks: {list.error.message}</p>}
        {list.data &&
          (locks.length === 0 ? (
            <p className="muted" data-testid="no-locks">
              No lock is held{filters.prefix || filters.owner || filters.mode ? " that matches the filters" : ""}.
            </p>
          ) : (
            <LockTable
              locks={locks}
              now={now ?? list.data.pages[0]!.now}
              expanded={expanded}
              onToggle={toggle}
              {...(canRelease ? { onRelease: setReleasing } : {})}
            />
          ))}
        {list.hasNextPage && (
          <nav className="pager" aria-label="Pages">
            <button type="button" className="button" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
              {list.isFetchingNextPage ? "Loading…" : "More locks"}
            </button>
          </nav>
        )}
        <p className="muted">
          Locks live for milliseconds in normal work; the list shows those held long enough to be indexed (about 50 ms). A lock
          whose holder vanished stays until its lease runs out, or until an operator releases it here.
        </p>
      </section>

      <WaitForGraphPanel />

      {releasing && (
        <ReleaseDialog
          lock={releasing}
          onClose={() => setReleasing(null)}
          onReleased={(r) => setNotice(`Released ${r.key}: ${r.message}.`)}
        />
      )}
    </>
  );
}
