// A stream's dead letters, newest first, with the error that sent each there and who moved
// it. Operators may requeue one; admins may purge them all, by the count shown.
import type { DeadLetter } from "@/server/queues/types";
import { EntryFields } from "./EntryFields";
import { count, dateTime } from "./format";
import type { QueueActionRequest } from "./queries";
import styles from "./queues.module.css";

export interface DeadLettersTableProps {
  stream: string;
  dead: { total: number; entries: DeadLetter[] };
  /** Present for operators and admins only. */
  onAction?: (action: QueueActionRequest) => void;
  canPurge: boolean;
}

export function DeadLettersTable({ stream, dead, onAction, canPurge }: DeadLettersTableProps) {
  const { total, entries } = dead;
  return (
    <section className="panel" aria-labelledby="dead-title" data-testid="dead-letters">
      <div className="panel-head">
        <h2 id="dead-title">Dead letters</h2>
        <span className="panel-meta" data-testid="dead-total">
          {total === 0
            ? "none"
            : `${count(total)} in ${stream}:dead${total > entries.length ? `, the newest ${entries.length} shown` : ""}`}
        </span>
        {canPurge && onAction && total > 0 && (
          <button
            type="button"
            className="button button-danger"
            onClick={() => onAction({ kind: "purge", stream, expectedCount: total, expectedLastId: entries[0]?.id ?? "" })}
          >
            Purge all {count(total)}…
          </button>
        )}
      </div>
      {entries.length === 0 ? (
        <p className="muted">No dead letters: every entry was delivered within its delivery limit.</p>
      ) : (
        <table className="table" aria-label="Dead letters">
          <thead>
            <tr>
              <th>Dead letter</th>
              <th>Original entry</th>
              <th>Group</th>
              <th className={styles.num}>Deliveries</th>
              <th>Error</th>
              <th>By</th>
              <th>At</th>
              <th>Fields</th>
              {onAction && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {entries.map((d) => (
              <tr key={d.id} data-testid={`dead-row-${d.id}`}>
                <td className={`mono ${styles.id}`}>{d.id}</td>
                <td className={`mono ${styles.id}`}>{d.originalId || "—"}</td>
                <td className="mono">{d.group || "—"}</td>
                <td className={styles.num}>{d.deliveries}</td>
                <td className={styles.error}>{d.error || "—"}</td>
                <td>{d.by || "—"}</td>
                <td suppressHydrationWarning>{dateTime(d.at)}</td>
                <td>
                  <EntryFields fields={d.fields} />
                </td>
                {onAction && (
                  <td className={styles.actions}>
                    <button
                      type="button"
                      className="button button-quiet"
                      aria-label={`Requeue ${d.id}`}
                      onClick={() => onAction({ kind: "requeue", stream, deadId: d.id })}
                    >
                      Requeue
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
