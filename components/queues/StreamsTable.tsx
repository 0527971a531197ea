// Every Redis stream of this deployment, one row per consumer group: length, lag, pending,
// the oldest pending entry's idle time, the highest delivery count, consumers and dead
// letters. A stream's name selects it (a link, so the selection can be shared).
import Link from "next/link";
import type { StreamFigures } from "@/server/queues/types";
import { age, count, KIND_LABELS } from "./format";
import { queuesHref } from "./queries";
import styles from "./queues.module.css";

export function StreamsTable({ streams, selected }: { streams: StreamFigures[]; selected: string | null }) {
  if (streams.length === 0) {
    return (
      <p className="muted" data-testid="no-streams">
        No queue stream exists yet: they appear once an engine or a relay opens its queue.
      </p>
    );
  }
  return (
    <table className="table" aria-label="Redis streams" data-testid="streams-table">
      <thead>
        <tr>
          <th>Stream</th>
          <th>Kind</th>
          <th className={styles.num}>Length</th>
          <th>Group</th>
          <th className={styles.num} title="Entries added that the group has not read yet">
            Lag
          </th>
          <th className={styles.num} title="Read and not acknowledged">
            Pending
          </th>
          <th className={styles.num}>Oldest pending</th>
          <th className={styles.num}>Max deliveries</th>
          <th className={styles.num}>Consumers</th>
          <th className={styles.num}>Dead letters</th>
        </tr>
      </thead>
      <tbody>
        {streams.map((s) => {
          const groups = s.groups.length > 0 ? s.groups : [null];
          const current = s.stream === selected;
          return groups.map((g, i) => (
            <tr
              key={`${s.stream}/${g?.name ?? ""}`}
              className={current ? styles.selected : undefined}
              data-testid={`stream-row-${s.stream}`}
              data-group={g?.name ?? ""}
            >
              {i === 0 && (
                <>
                  <td rowSpan={groups.length}>
                    <Link href={queuesHref(s.stream)} className="mono" aria-current={current ? "true" : undefined} scroll={false}>
                      {s.stream}
                    </Link>
                  </td>
                  <td rowSpan={groups.length}>{KIND_LABELS[s.kind]}</td>
                  <td rowSpan={groups.length} className={styles.num}>
                    {count(s.length)}
                  </td>
                </>
              )}
              {g ? (
                <>
                  <td className="mono">{g.name}</td>
                  <td className={styles.num} title={g.lag === null ? "Redis cannot tell after entries were deleted" : undefined}>
                    {count(g.lag)}
                  </td>
                  <td className={styles.num}>{count(g.pending)}</td>
                  <td className={styles.num}>{age(g.oldestPendingIdleMs)}</td>
                  <td className={`${styles.num}${g.maxDeliveries > 1 ? ` ${styles.warn}` : ""}`}>
                    {g.pending > 0 ? count(g.maxDeliveries) : "—"}
                  </td>
                  <td className={styles.num}>{count(g.consumers.length)}</td>
                </>
              ) : (
                <td colSpan={6} className="muted">
                  no consumer group
                </td>
              )}
              {i === 0 && (
                <td rowSpan={groups.length} className={`${styles.num}${s.deadLetters > 0 ? ` ${styles.bad}` : ""}`}>
                  {count(s.deadLetters)}
                </td>
              )}
            </tr>
          ));
        })}
      </tbody>
    </table>
  );
}
