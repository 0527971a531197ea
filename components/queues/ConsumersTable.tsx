// The consumers of each group of a stream, with what they hold and how long since they last
// read or claimed anything (and since their last successful read, when Redis reports it).
import type { GroupFigures } from "@/server/queues/types";
import { age, count } from "./format";
import styles from "./queues.module.css";

export function ConsumersTable({ groups }: { groups: GroupFigures[] }) {
  const rows = groups.flatMap((g) => g.consumers.map((c) => ({ group: g.name, ...c })));
  if (rows.length === 0) return <p className="muted">No consumer has read from this stream yet.</p>;
  return (
    <table className="table" aria-label="Consumers" data-testid="consumers-table">
      <thead>
        <tr>
          <th>Group</th>
          <th>Consumer</th>
          <th className={styles.num}>Pending</th>
          <th className={styles.num} title="Since it last read or claimed anything">
            Idle
          </th>
          <th className={styles.num} title="Since its last successful read (Redis 7.2 and later)">
            Inactive
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((c) => (
          <tr key={`${c.group}/${c.name}`} data-testid={`consumer-row-${c.name}`}>
            <td className="mono">{c.group}</td>
            <td className="mono">{c.name}</td>
            <td className={styles.num}>{count(c.pending)}</td>
            <td className={styles.num}>{age(c.idleMs)}</td>
            <td className={styles.num}>{age(c.inactiveMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
