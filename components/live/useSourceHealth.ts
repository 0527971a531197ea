"use client";
// Which sources the console can reach, in the TanStack Query cache: fetched from
// /api/sources, and replaced whenever the server pushes "sources.health" over the socket.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { apiFetch, isApiError } from "@/components/http/apiFetch";
import type { LiveSourceHealth } from "@/server/live/protocol";
import { liveConnection } from "./liveConnection";

export const SOURCES_KEY = ["sources"] as const;
/** Polling is the fallback for a socket that is down (no session check without the database). */
const POLL_LIVE_MS = 30_000;
const POLL_OFFLINE_MS = 5_000;
const POLL_SIGNED_OUT_MS = 60_000;

export function useSourceHealth(socketLive: boolean) {
  const client = useQueryClient();
  useEffect(() => liveConnection.onSourceHealth((health) => client.setQueryData(SOURCES_KEY, health)), [client]);
  return useQuery({
    queryKey: SOURCES_KEY,
    queryFn: ({ signal }) =>
      apiFetch<LiveSourceHealth>("/api/sources", { signal, timeoutMs: 10_000, redirectOnUnauthenticated: false }),
    // Signed out (the sign-in page) nothing is told but a database outage: seldom asked.
    refetchInterval: (query) =>
      isApiError(query.state.error) && query.state.error.status === 401
        ? POLL_SIGNED_OUT_MS
        : socketLive
          ? POLL_LIVE_MS
          : POLL_OFFLINE_MS,
    // A failure is itself the news (it names the source when one is down): no silent retries.
    retry: false,
  });
}
