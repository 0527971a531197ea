// RabbitMQ queues watched beside the streams (server/queues/rabbit.ts). Only the
// management API reports unacknowledged messages; without it that column says so.
import type { RabbitQueueFigures } from "@/server/queues/types";
import { count } from "./format";
import styles from "./queues.module.css";

const NO_MANAGEMENT =
  "Only the RabbitMQ management API reports unacknowledged messages: set COHORT_RABBITMQ_MANAGEMENT_URL to see them.";

export function RabbitTable({ queues }: { queues: RabbitQueueFigures[] | null }) {
  if (queues === null) {
    return (
      <p className="muted" data-testid="no-rabbit">
        No RabbitMQ broker configured (COHORT_RABBITMQ_URL).
      </p>
    );
  }
  if (queues.length === 0)
    return <p className="muted">The broker is configured, but no queue is watched (COHORT_RABBITMQ_QUEUES).</p>;
  return (
    <table className="table" aria-label="RabbitMQ queues" data-testid="rabbit-table">
      <thead>
        <tr>
          <th>Queue</th>
          <th className={styles.num}>Ready</th>
          <th className={styles.num}>Unacknowledged</th>
          <th className={styles.num}>Consumers</th>
          <th>Error</th>
        </tr>
      </thead>
      <tbody>
        {queues.map((q) => (
          <tr key={`${q.vhost}/${q.name}`} data-testid={`rabbit-row-${q.name}`}>
            <td>
              <span className="mono">{q.name}</span> <span className="muted">vhost {q.vhost}</span>
            </td>
            <td className={styles.num}>{count(q.ready)}</td>
            <td className={styles.num}>
              {q.unacknowledged === null ? <span title={NO_MANAGEMENT}>—</span> : count(q.unacknowledged)}
            </td>
            <td className={styles.num}>{count(q.consumers)}</td>
            <td className={q.error ? styles.bad : "muted"}>{q.error ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
