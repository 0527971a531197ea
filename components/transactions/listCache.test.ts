import { describe, expect, it } from "vitest";
import type { LiveTxEvent } from "@/server/live/protocol";
import type { TxListItem } from "@/server/transactions/types";
import {
  allRows,
  compareNewestFirst,
  mayBeNewRow,
  mergeHead,
  patchRows,
  repage,
  unknownEvents,
  uuidV7Time,
  type ListData,
} from "./listCache";
import { filtersKey, readFilters } from "./urlFilters";

/** Row n started n seconds after the epoch base; higher n is newer. */
const row = (n: number, status: TxListItem["status"] = "ACTIVE"): TxListItem => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
  label: "transfer",
  status,
  decision: null,
  startedAt: new Date(1_700_000_000_000 + n * 1000).toISOString(),
  decidedAt: null,
  endedAt: null,
  updatedAt: new Date(1_700_000_000_000 + n * 1000).toISOString(),
  shards: ["shard-a"],
  cursor: `c${n}`,
});
const newestFirst = (from: number, to: number) => Array.from({ length: from - to + 1 }, (_, i) => row(from - i));
const ids = (data: ListData) => allRows(data).map((r) => Number(r.id.slice(-12)));
const event = (id: string, status: LiveTxEvent["status"], label = "transfer"): LiveTxEvent => ({
  eventId: "1-0",
  id,
  status,
  label,
  at: 1_700_000_100_000,
});

describe("list cache", () => {
  it("patches the status of shown rows and leaves the rest untouched", () => {
    const data = repage(newestFirst(10, 1), 5, true);
    const patched = patchRows(data, [event(row(7).id, "COMMITTED"), event(row(99).id, "ABORTED")]);
    expect(allRows(patched).find((r) => r.id === row(7).id)).toMatchObject({ status: "COMMITTED", endedAt: null });
    expect(patched.pages[1]).toBe(data.pages[1]);
    expect(patchRows(data, [event(row(99).id, "ABORTED")])).toBe(data);
    expect(unknownEvents(data, [event(row(7).id, "COMMITTED"), event(row(99).id, "ABORTED")]).map((e) => e.id)).toEqual([
      row(99).id,
    ]);
  });

  it("puts newer rows of a fresh first page on top and updates overlapping ones", () => {
    const data = repage(newestFirst(10, 1), 5, true);
    const fresh = { items: [row(12), row(11), row(10, "COMMITTED"), row(9), row(8)], nextCursor: "c8" };
    const merged = mergeHead(data, fresh, { pageSize: 5, maxRows: 100 });
    expect(ids(merged)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(allRows(merged)[0]!.arrivedLive).toBe(true);
    expect(allRows(merged)[2]).toMatchObject({ status: "COMMITTED" });
    expect(allRows(merged)[2]!.arrivedLive).toBeUndefined();
    // Re-cut so a refetch follows the same cursors: page k starts after row k*5-1.
    expect(merged.pageParams).toEqual([null, "c8", "c3"]);
    expect(merged.pages.map((p) => p.nextCursor)).toEqual(["c8", "c3", "c1"]);
  });

  it("restarts from the fresh page when it might not reach the cached top", () => {
    const data = repage(newestFirst(10, 1), 5, false);
    const fresh = { items: newestFirst(20, 16), nextCursor: "c16" };
    const merged = mergeHead(data, fresh, { pageSize: 5, maxRows: 100 });
    expect(ids(merged)).toEqual([20, 19, 18, 17, 16]);
    expect(merged.pageParams).toEqual([null]);
  });

  it("drops the oldest rows beyond the cap and keeps a cursor to them", () => {
    const data = repage(newestFirst(10, 1), 5, false);
    const merged = mergeHead(data, { items: newestFirst(13, 9), nextCursor: "c9" }, { pageSize: 5, maxRows: 10 });
    expect(ids(merged)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4]);
    expect(merged.pages.at(-1)!.nextCursor).toBe("c4");
  });

  it("ends with no cursor when everything is loaded", () => {
    const data = repage(newestFirst(3, 1), 5, false);
    const merged = mergeHead(data, { items: newestFirst(4, 1), nextCursor: null }, { pageSize: 5, maxRows: 10 });
    expect(ids(merged)).toEqual([4, 3, 2, 1]);
    expect(merged.pages.at(-1)!.nextCursor).toBeNull();
    expect(repage([], 5, false)).toEqual({ pages: [{ items: [], nextCursor: null }], pageParams: [null] });
  });

  it("orders like the server: start time, then id", () => {
    const a = { startedAt: "2026-01-01T00:00:00.000Z", id: "b" };
    const b = { startedAt: "2026-01-01T00:00:00.000Z", id: "a" };
    expect(compareNewestFirst(a, b)).toBeLessThan(0);
    expect([b, a].sort(compareNewestFirst)).toEqual([a, b]);
  });
});

describe("new rows while paused", () => {
  const v7 = (ms: number) => {
    const hex = ms.toString(16).padStart(12, "0");
    return `${hex.slice(0, 8)}-${hex.slice(8)}-7abc-8def-0123456789ab`;
  };
  const top = { startedAt: new Date(1_700_000_000_000).toISOString() };
  const filters = readFilters(new URLSearchParams());

  it("reads the start time of UUIDv7 ids only", () => {
    expect(uuidV7Time(v7(1_700_000_000_123))).toBe(1_700_000_000_123);
    expect(uuidV7Time("0190a8c4-5b7e-4a11-9c3d-1234567890ab")).toBeNull();
  });

  it("counts transactions started after the top row that the visible filters admit", () => {
    const later = v7(1_700_000_000_500);
    expect(mayBeNewRow(event(later, "ACTIVE"), top, filters)).toBe(true);
    expect(mayBeNewRow(event(v7(1_699_999_999_000), "ACTIVE"), top, filters)).toBe(false);
    expect(mayBeNewRow(event(later, "ACTIVE"), top, readFilters(new URLSearchParams("state=committed")))).toBe(false);
    expect(mayBeNewRow(event(later, "COMMITTED"), top, readFilters(new URLSearchParams("state=committed")))).toBe(true);
    expect(mayBeNewRow(event(later, "ACTIVE"), top, readFilters(new URLSearchParams("state=open")))).toBe(true);
    expect(mayBeNewRow(event(later, "ACTIVE", "refund"), top, readFilters(new URLSearchParams("label=transfer")))).toBe(false);
    expect(mayBeNewRow(event(later, "ACTIVE"), top, readFilters(new URLSearchParams("sort=oldest")))).toBe(false);
    expect(mayBeNewRow(event(later, "ACTIVE"), undefined, filters)).toBe(true);
  });

  it("reads URL filters leniently and writes them canonically", () => {
    const read = readFilters(new URLSearchParams("state=Committing&label=%20x%20&olderThan=abc&id=01AB-CD&sort=oldest&junk=1"));
    expect(read).toEqual({
      state: "COMMITTING",
      label: "x",
      shard: undefined,
      olderThan: undefined,
      idPrefix: "01abcd",
      sort: "oldest",
    });
    expect(filtersKey(read)).toBe("state=committing&label=x&id=01abcd&sort=oldest");
  });
});
