"use client";

import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";

/**
 * Invalidation for aggregates fed by a busy event stream: the first event refetches at
 * once, later ones within `intervalMs` collapse into one trailing refetch, so a burst
 * costs at most one request per interval and the last event is never dropped.
 * Pass a stable (module-level) query key.
 */
export function useThrottledInvalidate(queryKey: QueryKey, intervalMs: number): () => void {
  const queryClient = useQueryClient();
  const lastRun = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
    },
    [],
  );

  return useCallback(() => {
    if (timer.current) return;
    const run = () => {
      timer.current = null;
      lastRun.current = Date.now();
      void queryClient.invalidateQueries({ queryKey });
    };
    const wait = lastRun.current + intervalMs - Date.now();
    if (wait <= 0) run();
    else timer.current = setTimeout(run, wait);
  }, [queryClient, queryKey, intervalMs]);
}
