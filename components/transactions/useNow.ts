"use client";

import { useEffect, useState } from "react";

/**
 * A clock for "x seconds ago" that starts at the server's read time, so the first client
 * render matches the server's markup, and then ticks.
 */
export function useNow(serverNow: string, intervalMs = 1_000): number {
  const [now, setNow] = useState(() => Date.parse(serverNow));
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
