"use client";
// Live updates of the transaction list (DESIGN.md §6). Status changes of rows on screen are
// written into the query cache as they arrive. Transactions the list does not show yet are
// fetched as a fresh first page and merged on top (at most once a second), unless the list
// is paused: then they are only counted, and shown when asked for.
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { useLiveSocket, type ConnectionSnapshot } from "@/components/live/useLiveSocket";
import { TRANSACTIONS_ROOM, type LiveTxEvent } from "@/server/live/protocol";
import type { ListFilters } from "@/server/transactions/listParams";
import { allRows, mayBeNewRow, mergeHead, patchRows, unknownEvents, type ListData } from "./listCache";
import { fetchListPage } from "./listQuery";

const ROOMS = [TRANSACTIONS_ROOM];
const HEAD_REFRESH_MS = 1_000;
/** Live inserts stop growing the list here; older rows stay one "load more" away. */
const MAX_LIVE_ROWS = 500;

export interface ListLive {
  connection: ConnectionSnapshot;
  /** Transactions that arrived while paused and may belong at the top. */
  pendingCount: number;
  /** Fetches and shows what arrived while paused; call it on resume too. */
  showPending(): void;
}

/** Whether new transactions can belong at the top of this view at all. */
export function liveInserts(filters: ListFilters): boolean {
  return filters.sort === "newest" && !filters.olderThan;
}

export function useListLive(opts: { queryKey: QueryKey; filters: ListFilters; paused: boolean; pageSize: number }): ListLive {
  const { queryKey, filters, paused, pageSize } = opts;
  const queryClient = useQueryClient();
  const pending = useRef(new Set<string>());
  const [pendingCount, setPendingCount] = useState(0);
  const lastHead = useRef(0);
  const headTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const headRunning = useRef(false);
  // Read when a fetched head arrives: pausing must also stop a refresh already under way.
  const pausedNow = useRef(paused);
  useEffect(() => {
    pausedNow.current = paused;
    if (paused && headTimer.current) {
      clearTimeout(headTimer.current);
      headTimer.current = null;
    }
  }, [paused]);

  /** Set when the user asks while a refresh runs: that one may be held back by the pause. */
  const askedAgain = useRef(false);

  /** `asked`: the user asked for the rows (the bar, resuming), so pausing does not hold them back. */
  const refreshHead = useCallback(
    async (asked: boolean) => {
      if (headRunning.current) {
        askedAgain.current ||= asked;
        return;
      }
      headRunning.current = true;
      try {
        let ask = asked;
        for (;;) {
          askedAgain.current = false;
          lastHead.current = Date.now();
          const fresh = await fetchListPage(filters, null);
          if (ask || !pausedNow.current) {
            queryClient.setQueryData<ListData>(queryKey, (data) => mergeHead(data, fresh, { pageSize, maxRows: MAX_LIVE_ROWS }));
          }
          // Asked for during the fetch: fetch again, since this one may predate the request.
          if (!askedAgain.current) break;
          ask = true;
        }
      } catch {
        // The next event (or a resync) tries again; the rows shown stay correct meanwhile.
      } finally {
        headRunning.current = false;
      }
    },
    [filters, queryClient, queryKey, pageSize],
  );

  const scheduleHead = useCallback(() => {
    if (headTimer.current) return;
    const wait = Math.max(0, lastHead.current + HEAD_REFRESH_MS - Date.now());
    headTimer.current = setTimeout(() => {
      headTimer.current = null;
      void refreshHead(false);
    }, wait);
  }, [refreshHead]);

  // The caller keys the component by its view, so a new view starts with fresh state; only
  // a refresh scheduled for the old one must not fire.
  useEffect(
    () => () => {
      if (headTimer.current) clearTimeout(headTimer.current);
      headTimer.current = null;
    },
    [],
  );

  const onTxEvents = (events: LiveTxEvent[]) => {
    const data = queryClient.getQueryData<ListData>(queryKey);
    if (!data) return;
    queryClient.setQueryData<ListData>(queryKey, (d) => (d ? patchRows(d, events) : d));
    const top = allRows(data)[0];
    const candidates = unknownEvents(data, events).filter((e) => mayBeNewRow(e, top, filters));
    if (paused) {
      for (const e of candidates) pending.current.add(e.id);
      if (candidates.length > 0) setPendingCount(pending.current.size);
      return;
    }
    // A head refresh also re-reads the first page, which fills in what events do not carry
    // (end time, shards) for the rows that change most.
    const firstPage = new Set(data.pages[0]?.items.map((r) => r.id));
    if (candidates.length > 0 || (liveInserts(filters) && events.some((e) => firstPage.has(e.id)))) scheduleHead();
  };

  const onResync = () => void queryClient.invalidateQueries({ queryKey });

  const connection = useLiveSocket({ rooms: ROOMS, onTxEvents, onResync });

  const showPending = useCallback(() => {
    pending.current.clear();
    setPendingCount(0);
    void refreshHead(true);
  }, [refreshHead]);

  return { connection, pendingCount, showPending };
}
