"use client";
// The reason dialog of every queue action: says what will happen to which entry, sends the
// action with the reason, and refetches the page's figures whatever the answer. A refusal
// (problem+json) stays in the dialog as the server's own words. Purge sends the count and
// newest id shown here; when they changed meanwhile the server refuses, and the dialog
// takes the new figures so the admin can look again and confirm those.
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ReasonDialog } from "@/components/forms/ReasonDialog";
import { isApiError } from "@/components/http/apiFetch";
import type { DeadLetter, PendingEntry } from "@/server/queues/types";
import { EntryFields } from "./EntryFields";
import { age, count, dateTime } from "./format";
import {
  fetchQueueDetail,
  queueDetailKey,
  QUEUES_KEY,
  sendQueueAction,
  type QueueActionRequest,
  type QueueActionResult,
  type QueueDetail,
} from "./queries";
import styles from "./queues.module.css";

export interface QueueActionDialogProps {
  action: QueueActionRequest;
  detail: QueueDetail;
  onClose(): void;
  onDone(result: QueueActionResult): void;
}

export function QueueActionDialog({ action: initial, detail, onClose, onDone }: QueueActionDialogProps) {
  const queryClient = useQueryClient();
  // Purge's expected figures are what the admin was shown, updated only after a refusal.
  const [action, setAction] = useState(initial);

  const confirm = async (reason: string) => {
    try {
      onDone(await sendQueueAction(action, reason));
    } catch (err) {
      if (action.kind === "purge" && isApiError(err, "CONFLICT")) {
        const fresh = await queryClient
          .fetchQuery({ queryKey: queueDetailKey(action.stream), queryFn: () => fetchQueueDetail(action.stream), staleTime: 0 })
          .catch(() => null);
        if (fresh) setAction({ ...action, expectedCount: fresh.dead.total, expectedLastId: fresh.dead.entries[0]?.id ?? "" });
      }
      throw err;
    } finally {
      void queryClient.invalidateQueries({ queryKey: QUEUES_KEY });
    }
  };

  const common = { onConfirm: confirm, onClose };
  switch (action.kind) {
    case "retry": {
      const entry = findPending(detail, action.group, action.id);
      return (
        <ReasonDialog {...common} title={`Retry entry ${action.id} now`} confirmLabel="Retry now">
          <PendingFacts stream={action.stream} group={action.group} id={action.id} entry={entry} />
          <p className="muted">
            The entry becomes due at once, without counting a delivery: its consumer retries it on its next tick, or any live
            consumer takes it over if that one is gone.
          </p>
        </ReasonDialog>
      );
    }
    case "claim": {
      const entry = findPending(detail, action.group, action.id);
      const consumers = detail.figures.groups.find((g) => g.name === action.group)?.consumers ?? [];
      return (
        <ReasonDialog {...common} title={`Claim entry ${action.id} for another consumer`} confirmLabel="Claim">
          <PendingFacts stream={action.stream} group={action.group} id={action.id} entry={entry} />
          <label className="field">
            <span>New consumer</span>
            <select value={action.consumer} onChange={(e) => setAction({ ...action, consumer: e.target.value })}>
              {consumers
                .filter((c) => c.name !== entry?.consumer)
                .map((c) => (
                  <option key={c.name} value={c.name}>
                    {c.name} (idle {age(c.idleMs)}, {count(c.pending)} pending)
                  </option>
                ))}
            </select>
          </label>
          <p className="muted">
            The entry moves to that consumer and is due at once there, without counting a delivery. Only a live consumer (one that
            read within the reclaim threshold) may take it.
          </p>
        </ReasonDialog>
      );
    }
    case "dead-letter": {
      const entry = findPending(detail, action.group, action.id);
      return (
        <ReasonDialog
          {...common}
          title={`Move entry ${action.id} to the dead letters`}
          confirmLabel="Move to dead letters"
          danger
        >
          <PendingFacts stream={action.stream} group={action.group} id={action.id} entry={entry} />
          <p className="muted">
            The entry leaves the pending list and is kept in the dead letters with your name and reason as its error. A phase-2
            entry&apos;s branch is marked as waiting for a person; it is delivered again only when someone requeues it.
          </p>
        </ReasonDialog>
      );
    }
    case "requeue": {
      const dead = detail.dead.entries.find((d) => d.id === action.deadId);
      return (
        <ReasonDialog {...common} title={`Requeue dead letter ${action.deadId}`} confirmLabel="Requeue">
          <DeadFacts stream={action.stream} id={action.deadId} dead={dead} />
          <p className="muted">
            It goes back on the stream as a new entry, its delivery count starting over. A phase-2 entry is requeued only while
            its transaction is unfinished and the coordinator log&apos;s decision is the one it carries.
          </p>
        </ReasonDialog>
      );
    }
    case "purge":
      return (
        <ReasonDialog
          {...common}
          title={`Purge the dead letters of ${action.stream}`}
          confirmLabel={`Purge ${count(action.expectedCount)} dead letter${action.expectedCount === 1 ? "" : "s"}`}
          danger
        >
          <p data-testid="purge-count">
            This deletes all <strong>{count(action.expectedCount)}</strong> dead letter{action.expectedCount === 1 ? "" : "s"}
            {action.expectedLastId ? (
              <>
                {" "}
                (newest <span className="mono">{action.expectedLastId}</span>)
              </>
            ) : null}
            , for good. If any arrived or left since this count, nothing is deleted and the new count is shown here.
          </p>
          <p className="muted">
            Purging does not resolve anything: phase-2 branches whose entries are purged stay marked for attention on the In doubt
            page.
          </p>
        </ReasonDialog>
      );
  }
}

function findPending(detail: QueueDetail, group: string, id: string): PendingEntry | undefined {
  return detail.pending.find((g) => g.group === group)?.entries.find((e) => e.id === id);
}

function PendingFacts(props: { stream: string; group: string; id: string; entry: PendingEntry | undefined }) {
  const { entry } = props;
  return (
    <dl className={styles.facts}>
      <dt>Stream</dt>
      <dd className="mono">{props.stream}</dd>
      <dt>Group</dt>
      <dd className="mono">{props.group}</dd>
      <dt>Entry</dt>
      <dd className="mono">{props.id}</dd>
      {entry ? (
        <>
          <dt>Consumer</dt>
          <dd className="mono">{entry.consumer}</dd>
          <dt>Deliveries</dt>
          <dd>{entry.deliveries}</dd>
          <dt>Idle</dt>
          <dd>{age(entry.idleMs)}</dd>
          <dt>Fields</dt>
          <dd>
            <EntryFields fields={entry.fields} />
          </dd>
          <dt>Last error</dt>
          <dd>{entry.lastError ?? "—"}</dd>
        </>
      ) : (
        <>
          <dt>Now</dt>
          <dd className="muted">no longer pending: delivered or moved meanwhile</dd>
        </>
      )}
    </dl>
  );
}

function DeadFacts(props: { stream: string; id: string; dead: DeadLetter | undefined }) {
  const { dead } = props;
  return (
    <dl className={styles.facts}>
      <dt>Stream</dt>
      <dd className="mono">{props.stream}</dd>
      <dt>Dead letter</dt>
      <dd className="mono">{props.id}</dd>
      {dead ? (
        <>
          <dt>Original entry</dt>
          <dd className="mono">{dead.originalId || "—"}</dd>
          <dt>Deliveries</dt>
          <dd>{dead.deliveries}</dd>
          <dt>Error</dt>
          <dd>{dead.error || "—"}</dd>
          <dt>By</dt>
          <dd>
            {dead.by || "—"} at {dateTime(dead.at)}
          </dd>
          <dt>Fields</dt>
          <dd>
            <EntryFields fields={dead.fields} />
          </dd>
        </>
      ) : (
        <>
          <dt>Now</dt>
          <dd className="muted">no longer among the newest dead letters shown</dd>
        </>
      )}
    </dl>
  );
}
