// One group's pending entries (read, not acknowledged): who holds each, how often it was
// delivered, how long it has been idle and its last error. Operators may make an entry due
// now, give it to another live consumer of the group (claim), or move it to the dead letters.
import type { GroupPending } from "@/server/ops/queues";
import type { GroupFigures } from "@/server/queues/types";
import { EntryFields } from "./EntryFields";
import { age, count } from "./format";
import type { QueueActionRequest } from "./queries";
import styles from "./queues.module.css";

export interface PendingTableProps {
  stream: string;
  pending: GroupPending;
  figures: GroupFigures | undefined;
  /** Present for operators and admins only. */
  onAction?: (action: QueueActionRequest) => void;
}

export function PendingTable({ stream, pending, figures, onAction }: PendingTableProps) {
  const { group, entries } = pending;
  const total = figures?.pending ?? entries.length;
  return (
    <section className={styles.sub} aria-labelledby={`pending-${group}-title`} data-testid={`pending-${group}`}>
      <div className="panel-head">
        <h3 id={`pending-${group}-title`}>
          Pending in group <span className="mono">{group}</span>
        </h3>
        <span className="panel-meta">
          {total > entries.length ? `the oldest ${entries.length} of ${count(total)}` : `${count(total)} pending`}
        </span>
      </div>
      {entries.length === 0 ? (
        <p className="muted">Nothing is pending: every entry read has been acknowledged.</p>
      ) : (
        <table className="table" aria-label={`Pending entries of group ${group}`}>
          <thead>
            <tr>
              <th>Entry</th>
              <th>Consumer</th>
              <th className={styles.num}>Deliveries</th>
              <th className={styles.num}>Idle</th>
              <th>Fields</th>
              <th>Last error</th>
              {onAction && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-testid={`pending-row-${e.id}`}>
                <td className={`mono ${styles.id}`}>{e.id}</td>
                <td className="mono">{e.consumer}</td>
                <td className={`${styles.num}${e.deliveries > 1 ? ` ${styles.warn}` : ""}`}>{e.deliveries}</td>
                <td className={styles.num}>{age(e.idleMs)}</td>
                <td>
                  <EntryFields fields={e.fields} />
                </td>
                <td className={e.lastError ? styles.error : "muted"}>{e.lastError ?? "—"}</td>
                {onAction && (
                  <td className={styles.actions}>
                    <button
                      type="button"
                      className="button button-quiet"
                      aria-label={`Retry now ${e.id}`}
                      onClick={() => onAction({ kind: "retry", stream, group, id: e.id })}
                    >
                      Retry now
                    </button>
                    {(figures?.consumers.length ?? 0) > 1 && (
                      <button
                        type="button"
                        className="button button-quiet"
                        aria-label={`Claim ${e.id}`}
                        onClick={() => {
                          const to = figures!.consumers
                            .filter((c) => c.name !== e.consumer)
                            .sort((a, b) => a.idleMs - b.idleMs)[0];
                          onAction({ kind: "claim", stream, group, id: e.id, consumer: to?.name ?? "" });
                        }}
                      >
                        Claim…
                      </button>
                    )}
                    <button
                      type="button"
                      className="button button-quiet"
                      aria-label={`Move to dead letters ${e.id}`}
                      onClick={() => onAction({ kind: "dead-letter", stream, group, id: e.id })}
                    >
                      Move to dead letters
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
