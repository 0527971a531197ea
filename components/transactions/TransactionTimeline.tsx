import type { TimelineRecord } from "@/server/transactions/types";
import { formatDuration, formatTimeOfDay } from "./format";
import { describeRecord } from "./timelineText";

/** The coordinator log of one transaction, oldest first, with time, actor and data. */
export function TransactionTimeline({ records, truncated }: { records: TimelineRecord[]; truncated: boolean }) {
  const origin = records[0] ? Date.parse(records[0].at) : 0;
  return (
    <section className="panel" aria-labelledby="tx-timeline-title">
      <header className="panel-head">
        <h2 id="tx-timeline-title">Timeline</h2>
        <span className="muted panel-meta">
          {records.length} record{records.length === 1 ? "" : "s"} from the coordinator log
          {truncated ? " (the newest; older ones left out)" : ""}
        </span>
      </header>
      {records.length === 0 ? (
        <p className="muted">The coordinator log has no records for this transaction.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="tx-timeline">
            <thead>
              <tr>
                <th>Time</th>
                <th className="num">+</th>
                <th>Record</th>
                <th>Actor</th>
                <th>Shard</th>
                <th>Data</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => (
                <tr key={r.id} data-testid="tx-timeline-record" data-type={r.type}>
                  <td>
                    <time dateTime={r.at} title={r.at} suppressHydrationWarning>
                      {formatTimeOfDay(r.at)}
                    </time>
                  </td>
                  <td className="num muted">{formatDuration(Date.parse(r.at) - origin)}</td>
                  <td>
                    <span className={recordTone(r)}>{r.type}</span>
                  </td>
                  <td className="mono">{r.actor}</td>
                  <td>{r.shard ?? ""}</td>
                  <td className="tx-record-data">
                    <span>{describeRecord(r)}</span>
                    {r.data !== null && r.data !== undefined && (
                      <details>
                        <summary className="muted">data</summary>
                        <pre className="mono">{JSON.stringify(r.data, null, 2)}</pre>
                      </details>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function recordTone({ type, data }: TimelineRecord): string {
  const outcome = data && typeof data === "object" ? (data as { decision?: unknown; status?: unknown }) : {};
  if (outcome.decision === "ABORT" || outcome.status === "ABORTED") return "tag tag-bad";
  if (type === "phase2.error" || type === "timeout" || type.endsWith("abort")) return "tag tag-bad";
  if (type === "decision" || type === "end" || type === "phase2.done") return "tag tag-ok";
  if (type === "takeover" || type === "reconcile" || type.startsWith("operator.")) return "tag tag-warn";
  return "tag";
}
