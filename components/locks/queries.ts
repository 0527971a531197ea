// Query keys and fetchers of the Locks page. Everything under ["locks"] is refreshed after
// a release. Lock state has no event stream (a lock lives for milliseconds; an event per
// grant would outweigh the locks), so what is on screen is polled.
import { apiFetch } from "@/components/http/apiFetch";
import type { LockDetail, LockGraph, LockListPage } from "@/server/ops/locks";
import type { LockFilterValues } from "./LockFilters";
import { lockApiPath } from "@/server/locks/lockKeyInUrl";

export const POLL_MS = 2_000;

export const LOCKS_KEY = ["locks"] as const;
export const lockListKey = (f: LockFilterValues) => ["locks", "list", f.prefix ?? "", f.owner ?? "", f.mode ?? ""] as const;
export const lockDetailKey = (key: string) => ["locks", "detail", key] as const;
export const LOCK_GRAPH_KEY = ["locks", "graph"] as const;
export const txLocksKey = (txId: string) => ["locks", "owner", txId] as const;

export const fetchLockPage = (f: LockFilterValues, cursor: string | null, signal?: AbortSignal) =>
  apiFetch<LockListPage>("/api/locks", { query: { prefix: f.prefix, owner: f.owner, mode: f.mode, cursor }, signal });

export const fetchLockDetail = (key: string, signal?: AbortSignal) => apiFetch<LockDetail>(lockApiPath(key), { signal });

export const fetchLockGraph = (signal?: AbortSignal) => apiFetch<LockGraph>("/api/locks/graph", { signal });
