// Small versioned events on a bounded Redis Stream (DESIGN.md §6), one per deployment
// namespace (`<namespace>:events`, so `cohort:events` by default). The engine appends;
// console processes of the same namespace read from it and fan out over socket.io.
import type { Redis } from "ioredis";
import type { TxStatus } from "../engine/log/states";

export function eventsStream(namespace: string): string {
  return `${namespace}:events`;
}
/** Approximate cap (XADD MAXLEN ~): enough for a reconnecting browser to catch up. */
export const EVENTS_MAXLEN = 100_000;

export type { TxStatus };

export type CohortEvent =
  | { v: 1; type: "tx.updated"; id: string; status: TxStatus; label: string; at: number }
  | { v: 1; type: "engine.instance"; id: string; state: "started" | "stopped" | "takeover"; at: number }
  /** A new ring version; `runId` names the rebalance run that moves keys to it (null for the first). */
  | { v: 1; type: "ring.changed"; version: number; runId: string | null; at: number }
  /** Rebalance progress (throttled) and every status change; `cursor` lets routers follow the run. */
  | {
      v: 1;
      type: "ring.rebalance";
      runId: string;
      version: number;
      moved: number;
      skipped: number;
      total: number | null;
      cursor: string | null;
      status: RebalanceStatus;
      at: number;
    }
  | QueuesSampledEvent;

/** The queue sampler stored a new point of every stream's figures (server/queues/sampler.ts). */
export interface QueuesSampledEvent {
  v: 1;
  type: "queues.sampled";
  namespace: string;
  at: number;
}

export type RebalanceStatus = "RUNNING" | "CANCELLED" | "FAILED" | "DONE";

/** Stream entries carry one field `e` holding the JSON event. */
export function encodeEvent(event: CohortEvent): string {
  return JSON.stringify(event);
}

export function decodeEvent(fields: string[]): CohortEvent | null {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "e") {
      try {
        const parsed = JSON.parse(fields[i + 1]!) as CohortEvent;
        return parsed.v === 1 ? parsed : null;
      } catch {
        return null;
      }
    }
  }
  return null;
}

export function publishEvent(redis: Redis, namespace: string, event: CohortEvent): Promise<unknown> {
  return redis.xadd(eventsStream(namespace), "MAXLEN", "~", String(EVENTS_MAXLEN), "*", "e", encodeEvent(event));
}
