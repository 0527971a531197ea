"use client";
// The Queues page: every Redis stream and RabbitMQ queue with its figures, and the stream
// selected in the URL in detail. Server data lives in the TanStack Query cache only; the
// server signals each new sample on the "queues" room and everything under ["queues"] is
// refetched then (at most once a second), with polling as the fallback.
import { useQuery } from "@tanstack/react-query";
import { ConnectionBadge } from "@/components/live/ConnectionBadge";
import { useLiveSocket } from "@/components/live/useLiveSocket";
import { useThrottledInvalidate } from "@/components/live/useThrottledInvalidate";
import { QUEUES_ROOM } from "@/server/live/protocol";
import { clock } from "./format";
import {
  fetchQueueOverview,
  LIVE_REFETCH_MS,
  POLL_LIVE_MS,
  POLL_OFFLINE_MS,
  QUEUE_OVERVIEW_KEY,
  QUEUES_KEY,
  type QueueOverview,
} from "./queries";
import { RabbitTable } from "./RabbitTable";
import { StreamDetail } from "./StreamDetail";
import { StreamsTable } from "./StreamsTable";
import { PendingNote } from "@/components/live/PendingNote";

const ROOMS = [QUEUES_ROOM];

export interface QueuesViewProps {
  initial: QueueOverview | null;
  /** The stream named in the URL (already checked to be a well-formed name), or null. */
  selected: string | null;
  canOperate: boolean;
  canPurge: boolean;
}

export function QueuesView({ initial, selected, canOperate, canPurge }: QueuesViewProps) {
  const refetch = useThrottledInvalidate(QUEUES_KEY, LIVE_REFETCH_MS);
  const connection = useLiveSocket({ rooms: ROOMS, onQueuesSampled: refetch, onResync: refetch });
  const refetchInterval = connection.state === "live" ? POLL_LIVE_MS : POLL_OFFLINE_MS;
  const overview = useQuery({
    queryKey: QUEUE_OVERVIEW_KEY,
    queryFn: ({ signal }) => fetchQueueOverview(signal),
    ...(initial ? { initialData: initial, initialDataUpdatedAt: initial.collectedAt } : {}),
    refetchInterval,
  });
  const data = overview.data;

  return (
    <div className="stack">
      <section className="panel" aria-labelledby="streams-title" data-testid="streams-panel">
        <div className="panel-head">
          <h2 id="streams-title">Redis streams</h2>
          <ConnectionBadge connection={connection} />
          {data && (
            <span className="panel-meta" data-testid="collect-ms">
              figures collected in {data.collectMs} ms · as of{" "}
              <time dateTime={new Date(data.collectedAt).toISOString()} suppressHydrationWarning>
                {clock(data.collectedAt)}
              </time>
            </span>
          )}
        </div>
        {overview.isError && (
          <p className="alert" role="alert">
            Could not load the queues: {overview.error.message}
            {data ? " (showing the last known figures)" : ""}
          </p>
        )}
        {overview.isPending && <PendingNote query={overview} what="the queues" />}
        {data && <StreamsTable streams={data.streams} selected={selected} />}
        {data && !selected && data.streams.length > 0 && (
          <p className="muted">Select a stream to see its charts, pending entries and dead letters.</p>
        )}
      </section>

      <section className="panel" aria-labelledby="rabbit-title" data-testid="rabbit-panel">
        <div className="panel-head">
          <h2 id="rabbit-title">RabbitMQ queues</h2>
        </div>
        {data && <RabbitTable queues={data.rabbit} />}
      </section>

      {selected && (
        <StreamDetail
          key={selected}
          stream={selected}
          refetchInterval={refetchInterval}
          canOperate={canOperate}
          canPurge={canPurge}
        />
      )}
    </div>
  );
}
