"use client";
// One stream, selected by ?stream=: charts of its depth and rates, its consumers, the
// pending entries of each group and its dead letters, with the operator actions. Refetched
// with the overview (everything under ["queues"]), live.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { isApiError } from "@/components/http/apiFetch";
import { ConsumersTable } from "./ConsumersTable";
import { DeadLettersTable } from "./DeadLettersTable";
import { count, KIND_LABELS } from "./format";
import { PendingTable } from "./PendingTable";
import { fetchQueueDetail, queueDetailKey, type QueueActionRequest } from "./queries";
import { QueueActionDialog } from "./QueueActionDialog";
import { QueueCharts } from "./QueueCharts";
import styles from "./queues.module.css";
import { PendingNote } from "@/components/live/PendingNote";

export interface StreamDetailProps {
  stream: string;
  refetchInterval: number;
  canOperate: boolean;
  canPurge: boolean;
}

export function StreamDetail({ stream, refetchInterval, canOperate, canPurge }: StreamDetailProps) {
  const [acting, setActing] = useState<QueueActionRequest | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const detail = useQuery({
    queryKey: queueDetailKey(stream),
    queryFn: ({ signal }) => fetchQueueDetail(stream, signal),
    refetchInterval,
    // An unknown stream stays unknown: no retries before saying so.
    retry: (failures, err) => failures < 2 && !isApiError(err, "NOT_FOUND"),
  });
  const onAction = canOperate ? setActing : undefined;

  const head = (
    <div className="panel-head">
      <h2 id="stream-title">
        Stream <span className="mono">{stream}</span>
      </h2>
      {detail.data && (
        <span className="panel-meta">
          {KIND_LABELS[detail.data.figures.kind]} · length {count(detail.data.figures.length)} · last id{" "}
          <span className="mono">{detail.data.figures.lastId}</span>
        </span>
      )}
      <Link href="/queues" scroll={false}>
        All streams
      </Link>
    </div>
  );

  if (detail.isPending) {
    return (
      <section className="panel" aria-labelledby="stream-title">
        {head}
        <PendingNote query={detail} what="the stream" />
      </section>
    );
  }
  if (detail.isError && !detail.data) {
    return (
      <section className="panel" aria-labelledby="stream-title">
        {head}
        <p className="alert" role="alert" data-testid="stream-error">
          Could not load the stream: {detail.error.message}
        </p>
      </section>
    );
  }
  const data = detail.data;
  const groupFigures = new Map(data.figures.groups.map((g) => [g.name, g]));

  return (
    <>
      <section className="panel stack" aria-labelledby="stream-title" data-testid="stream-detail">
        {head}
        {detail.isError && (
          <p className="alert" role="alert">
            Could not refresh the stream: {detail.error.message} (showing the last known figures)
          </p>
        )}
        {notice && (
          <p className="notice" role="status" data-testid="queue-notice">
            {notice}
          </p>
        )}
        <QueueCharts series={data.series} />
        <section className={styles.sub} aria-labelledby="consumers-title">
          <div className="panel-head">
            <h3 id="consumers-title">Consumers</h3>
          </div>
          <ConsumersTable groups={data.figures.groups} />
        </section>
        {data.pending.length === 0 ? (
          <p className="muted">This stream has no consumer group, so nothing is pending.</p>
        ) : (
          data.pending.map((p) => (
            <PendingTable
              key={p.group}
              stream={stream}
              pending={p}
              figures={groupFigures.get(p.group)}
              {...(onAction ? { onAction } : {})}
            />
          ))
        )}
      </section>

      <DeadLettersTable stream={stream} dead={data.dead} canPurge={canPurge} {...(onAction ? { onAction } : {})} />

      {acting && (
        <QueueActionDialog
          action={acting}
          detail={data}
          onClose={() => setActing(null)}
          onDone={(result) => setNotice(result.message.charAt(0).toUpperCase() + result.message.slice(1) + ".")}
        />
      )}
    </>
  );
}
