"use client";
// Leases are judged by the Redis server's clock, which the API reports with every read
// (`now`). Ages and TTLs tick on the browser's clock shifted by the skew seen at that read,
// so they stay right on a machine whose clock is off.
import { useEffect, useState } from "react";

/**
 * The browser's clock, updated every interval; null until the first tick, so the server's
 * markup and the first client render (both showing the read's own time) are the same.
 */
export function useTick(intervalMs = 1_000): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** The Redis clock now, from a read's `now` and when the browser received it (TanStack's dataUpdatedAt). */
export function useRedisNow(serverNow: number | undefined, receivedAt: number): number | null {
  const tick = useTick();
  if (serverNow === undefined) return null;
  if (tick === null) return serverNow;
  // The last tick may be older than the read; never show time running backwards.
  return Math.max(tick, receivedAt) + (serverNow - receivedAt);
}
