// The socket.io wire protocol between console processes and browsers (DESIGN.md §6).
// Shared by server/live/fanout.ts and components/live: it must stay free of server-only
// imports (and of zod, which the browser bundle does not need).
import type { CohortEvent, TxStatus } from "./events";

export const LIVE_EVENTS = {
  /** server → client: a batch of transaction updates, sorted by eventId. */
  txUpdated: "tx.updated",
  /** server → client: a ring version or rebalance progress event, to the ring room. */
  ringUpdated: "ring.updated",
  /** server → client: new queue figures were sampled, to the queues room (refetch them). */
  queuesSampled: "queues.sampled",
  /** server → client: catch-up after (re)connect or subscribe is done; see LiveReady. */
  ready: "live.ready",
  /** server → client: which sources the console can reach, on connect and on every change. */
  sources: "sources.health",
  /** client → server: join rooms ({ rooms }). */
  subscribe: "subscribe",
  /** client → server: leave rooms ({ rooms }). */
  unsubscribe: "unsubscribe",
} as const;

export const TRANSACTIONS_ROOM = "transactions";
export const txRoom = (txId: string): string => `tx:${txId}`;
export const RING_ROOM = "ring";
export const QUEUES_ROOM = "queues";

/**
 * Ring events as they are on the stream. They are state, not deltas (a progress event has
 * the run's full counts), so they are neither coalesced nor replayed: a client that missed
 * some refetches on resync, and the next event brings it up to date.
 */
export type LiveRingEvent = Extract<CohortEvent, { type: "ring.changed" | "ring.rebalance" }> & { eventId: string };

export interface LiveTxEvent {
  /** Redis Stream id of the event; clients remember the highest one they saw. */
  eventId: string;
  id: string;
  status: TxStatus;
  label: string;
  at: number;
}

export interface LiveReady {
  /** Resume point for the next reconnect (null only when the stream has never had an entry). */
  lastEventId: string | null;
  /**
   * True when the server could not prove the client missed nothing (first connect, or the
   * stream was trimmed past the client's cursor): the client must refetch what it shows.
   */
  resync: boolean;
}

/** The sources the console reads; while one is down its pages cannot be current. */
export type LiveSourceName = "coordinator database" | "Redis";

export interface LiveSourceState {
  source: LiveSourceName;
  up: boolean;
  /** ISO time of the last change (or of the console's first probe). */
  since: string;
}

export interface LiveSourceHealth {
  sources: LiveSourceState[];
  /** ISO time of the console's last completed probe. */
  checkedAt: string;
}

/** An acknowledgement of subscribe: the rooms refused, with why (too many, unknown, not allowed). */
export interface SubscribeAck {
  ok: boolean;
  refused: { room: string; reason: string }[];
}

export interface SubscribeRequest {
  rooms: string[];
}

/** Handshake `auth` a client may send; the server validates it. */
export interface LiveHandshake {
  lastEventId?: string;
  rooms?: string[];
}

export interface ServerToClientEvents {
  "tx.updated": (events: LiveTxEvent[]) => void;
  "ring.updated": (event: LiveRingEvent) => void;
  "queues.sampled": (event: { at: number }) => void;
  "live.ready": (ready: LiveReady) => void;
  "sources.health": (health: LiveSourceHealth) => void;
}

export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack?: (ack: SubscribeAck) => void) => void;
  unsubscribe: (request: SubscribeRequest) => void;
}

/**
 * Orders Redis Stream ids ("<ms>-<seq>"). Plain string comparison is wrong once the
 * millisecond part gains a digit, and the parts can exceed 2^53, hence BigInt.
 */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = "0", aSeq = "0"] = a.split("-");
  const [bMs = "0", bSeq = "0"] = b.split("-");
  const ms = BigInt(aMs) - BigInt(bMs);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aSeq) - BigInt(bSeq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
