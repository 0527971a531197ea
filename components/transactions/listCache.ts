// Pure updates of the transaction list's cached pages (a TanStack infinite query). Live
// events patch the rows already shown; a fresh first page is merged on top so new
// transactions appear without a reload, and pages are re-cut so that a later refetch of
// the infinite query walks the same cursors.
import type { InfiniteData } from "@tanstack/react-query";
import type { LiveTxEvent } from "@/server/live/protocol";
import type { ListFilters } from "@/server/transactions/listParams";
import type { TxListItem, TxListPage } from "@/server/transactions/types";

/** A row as cached: the server's, plus whether it arrived live (highlighted once). */
export type ListRow = TxListItem & { arrivedLive?: boolean };
export type ListPage = Omit<TxListPage, "items"> & { items: ListRow[] };
export type ListData = InfiniteData<ListPage, string | null>;

const FINISHED = new Set(["COMMITTED", "ABORTED"]);

export function allRows(data: ListData | undefined): ListRow[] {
  return data ? data.pages.flatMap((p) => p.items) : [];
}

/** Applies status changes to rows already in the cache; returns `data` itself when none is shown. */
export function patchRows(data: ListData, events: LiveTxEvent[]): ListData {
  const latest = new Map(events.map((e) => [e.id, e]));
  let changed = false;
  const pages = data.pages.map((page) => {
    let pageChanged = false;
    const items = page.items.map((row) => {
      const event = latest.get(row.id);
      if (!event || event.status === row.status) return row;
      pageChanged = true;
      // Only the state: events carry no end time or shards, and an estimate (the engine's
      // clock) would show durations the log does not have. Refetches fill those in.
      return { ...row, status: event.status };
    });
    if (!pageChanged) return page;
    changed = true;
    return { ...page, items };
  });
  return changed ? { ...data, pages } : data;
}

/** Events about transactions no cached row shows. */
export function unknownEvents(data: ListData | undefined, events: LiveTxEvent[]): LiveTxEvent[] {
  const shown = new Set(allRows(data).map((r) => r.id));
  return events.filter((e) => !shown.has(e.id));
}

/** Newest-first order: negative when `a` comes before (is newer than) `b`. */
export function compareNewestFirst(a: Pick<TxListItem, "startedAt" | "id">, b: Pick<TxListItem, "startedAt" | "id">): number {
  // ISO strings of one format order like the times; uuids order like PostgreSQL's uuid type.
  if (a.startedAt !== b.startedAt) return a.startedAt > b.startedAt ? -1 : 1;
  return a.id === b.id ? 0 : a.id > b.id ? -1 : 1;
}

export interface MergeOptions {
  pageSize: number;
  /** Live inserts never grow the list beyond this (or what was loaded, if more). */
  maxRows: number;
}

/**
 * Puts the rows of a freshly fetched first page that are newer than the cached top on top.
 * If every row of a full fresh page is newer, rows may be missing between it and the cache:
 * the list restarts from the fresh page instead of showing a gap.
 */
export function mergeHead(data: ListData | undefined, fresh: TxListPage, opts: MergeOptions): ListData {
  const restart = (): ListData => ({ pages: [fresh], pageParams: [null] });
  const rows = allRows(data);
  const top = rows[0];
  if (!data || !top) return restart();
  const newer = fresh.items.filter((r) => compareNewestFirst(r, top) < 0);
  if (newer.length === fresh.items.length && fresh.nextCursor !== null) return restart();

  // The fresh page also carries the current state of rows already shown.
  const current = new Map(fresh.items.map((r) => [r.id, r]));
  const merged: ListRow[] = [
    ...newer.map((r) => ({ ...r, arrivedLive: true })),
    ...rows.map((r) => {
      const update = current.get(r.id);
      return update ? { ...update, arrivedLive: r.arrivedLive } : r;
    }),
  ];
  const limit = Math.max(opts.maxRows, rows.length);
  const kept = merged.slice(0, limit);
  const hadMore = data.pages.at(-1)?.nextCursor != null || merged.length > kept.length;
  return repage(kept, opts.pageSize, hadMore);
}

/** Cuts rows into pages whose params are the cursors a refetch would follow. */
export function repage(rows: ListRow[], pageSize: number, hasMore: boolean): ListData {
  const pages: ListPage[] = [];
  const pageParams: (string | null)[] = [];
  for (let i = 0; i < rows.length || pages.length === 0; i += pageSize) {
    const items = rows.slice(i, i + pageSize);
    const last = i + pageSize >= rows.length;
    pageParams.push(i === 0 ? null : rows[i - 1]!.cursor);
    pages.push({ items, nextCursor: last ? (hasMore && items.length > 0 ? items.at(-1)!.cursor : null) : items.at(-1)!.cursor });
    if (last) break;
  }
  return { pages, pageParams };
}

/**
 * The start time a UUIDv7 carries in its first 48 bits (the engine's ids are v7), or null
 * for other versions. Lets a paused list tell new transactions from old ones it just has
 * not loaded.
 */
export function uuidV7Time(id: string): number | null {
  if (id.length !== 36 || id[14] !== "7") return null;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Whether an event may be a transaction that belongs at the top of this list: started
 * after the top row, and not excluded by a filter the event can be checked against (the
 * shard and age filters cannot be, so the server has the last word when rows are fetched).
 */
export function mayBeNewRow(event: LiveTxEvent, top: Pick<TxListItem, "startedAt"> | undefined, filters: ListFilters): boolean {
  const started = uuidV7Time(event.id);
  if (started === null || (top && started < Date.parse(top.startedAt))) return false;
  if (filters.sort !== "newest" || filters.olderThan) return false;
  if (filters.label && event.label !== filters.label) return false;
  if (filters.idPrefix && !event.id.replaceAll("-", "").startsWith(filters.idPrefix)) return false;
  if (filters.state === "OPEN") return !FINISHED.has(event.status);
  return !filters.state || event.status === filters.state;
}
