// Query keys, fetchers and links of the Queues page. Everything under ["queues"] is
// refetched after an action and when the server says it sampled new figures (room
// "queues", about once a second); polling is the fallback for a socket that is down.
import { apiFetch } from "@/components/http/apiFetch";
import type { QueueActionResult, QueueDetail, QueueOverview } from "@/server/ops/queues";

export type { QueueActionResult, QueueDetail, QueueOverview } from "@/server/ops/queues";

/** Refetch at most this often on live "queues.sampled" signals. */
export const LIVE_REFETCH_MS = 1_000;
/** Polling while the socket is live (a safety net) and while it is not (the only source). */
export const POLL_LIVE_MS = 5_000;
export const POLL_OFFLINE_MS = 2_000;

export const QUEUES_KEY = ["queues"] as const;
export const QUEUE_OVERVIEW_KEY = ["queues", "overview"] as const;
export const queueDetailKey = (stream: string) => ["queues", "stream", stream] as const;

export const fetchQueueOverview = (signal?: AbortSignal) => apiFetch<QueueOverview>("/api/queues", { signal });

export const fetchQueueDetail = (stream: string, signal?: AbortSignal) =>
  apiFetch<QueueDetail>("/api/queues/stream", { query: { name: stream }, signal });

/** The page with a stream selected (or none): the selection lives in the URL, so it can be shared. */
export function queuesHref(stream: string | null): string {
  return stream ? `/queues?${new URLSearchParams({ stream }).toString()}` : "/queues";
}

export type QueueActionRequest =
  | { kind: "retry"; stream: string; group: string; id: string }
  | { kind: "dead-letter"; stream: string; group: string; id: string }
  | { kind: "claim"; stream: string; group: string; id: string; consumer: string }
  | { kind: "requeue"; stream: string; deadId: string }
  | { kind: "purge"; stream: string; expectedCount: number; expectedLastId: string };

/** Sends one action with the operator's reason; the server guards, audits and answers problem+json on refusal. */
export function sendQueueAction(action: QueueActionRequest, reason: string): Promise<QueueActionResult> {
  const { kind, ...target } = action;
  return apiFetch<QueueActionResult>(`/api/queues/${kind}`, { method: "POST", body: { ...target, reason } });
}
