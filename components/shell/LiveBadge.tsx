"use client";
// The shell's view of the one live connection: joins no rooms itself, so it shows the state
// of the socket that the page's own subscriptions share.
import { ConnectionBadge } from "@/components/live/ConnectionBadge";
import { useLiveSocket } from "@/components/live/useLiveSocket";

const NO_ROOMS: readonly string[] = [];

export function LiveBadge() {
  const connection = useLiveSocket({ rooms: NO_ROOMS });
  return <ConnectionBadge connection={connection} />;
}
