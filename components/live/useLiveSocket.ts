"use client";

import { useEffect, useEffectEvent, useSyncExternalStore } from "react";
import type { LiveRingEvent, LiveTxEvent } from "@/server/live/protocol";
import { SERVER_SNAPSHOT, liveConnection, type ConnectionSnapshot } from "./liveConnection";

export type { ConnectionSnapshot, ConnectionState } from "./liveConnection";

export interface UseLiveSocketOptions {
  /** socket.io rooms to be in while mounted, e.g. "transactions" or "tx:<id>". */
  rooms: readonly string[];
  onTxEvents?: (events: LiveTxEvent[]) => void;
  /** Updates may have been missed (first connect, or a gap the server cannot replay). */
  onResync?: () => void;
  /** Ring version and rebalance events (room "ring"). */
  onRingEvent?: (event: LiveRingEvent) => void;
  /** New queue figures were sampled (room "queues"): refetch them. */
  onQueuesSampled?: (event: { at: number }) => void;
}

/**
 * Joins rooms on the page's one live connection and reports its state. Handlers are
 * expected to write into the TanStack Query cache, not into component state.
 */
export function useLiveSocket({
  rooms,
  onTxEvents,
  onResync,
  onRingEvent,
  onQueuesSampled,
}: UseLiveSocketOptions): ConnectionSnapshot {
  const handleTxEvents = useEffectEvent((events: LiveTxEvent[]) => onTxEvents?.(events));
  const handleResync = useEffectEvent(() => onResync?.());
  const handleRingEvent = useEffectEvent((event: LiveRingEvent) => onRingEvent?.(event));
  const handleQueuesSampled = useEffectEvent((event: { at: number }) => onQueuesSampled?.(event));
  // A stable key, so callers may pass a fresh array literal on every render.
  const roomKey = [...rooms].sort().join("\n");

  useEffect(
    () =>
      liveConnection.subscribe({
        rooms: roomKey ? roomKey.split("\n") : [],
        onTxEvents: (events) => handleTxEvents(events),
        onResync: () => handleResync(),
        onRingEvent: (event) => handleRingEvent(event),
        onQueuesSampled: (event) => handleQueuesSampled(event),
      }),
    [roomKey],
  );

  return useSyncExternalStore(liveConnection.subscribeState, liveConnection.getSnapshot, () => SERVER_SNAPSHOT);
}
