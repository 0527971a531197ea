import Link from "next/link";
import type { AuditRecord } from "@/server/audit/audit";
import { describeChange } from "./describeChange";

const OUTCOME_TAG = { ok: "tag tag-ok", refused: "tag tag-warn", failed: "tag tag-bad" } as const;

export function AuditTable({ entries }: { entries: AuditRecord[] }) {
  if (entries.length === 0) return <p className="muted">No audit entries match.</p>;
  return (
    <table className="table" data-testid="audit-table">
      <thead>
        <tr>
          <th>Time (UTC)</th>
          <th>User</th>
          <th>Action</th>
          <th>Target</th>
          <th>Reason</th>
          <th>Before → after</th>
          <th>Outcome</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.id} data-testid="audit-row">
            <td className="mono">
              <time dateTime={e.at}>{e.at.slice(0, 19).replace("T", " ")}</time>
            </td>
            <td>{e.userName}</td>
            <td className="mono">{e.action}</td>
            <td>
              <Target type={e.targetType} id={e.targetId} />
            </td>
            <td>{e.reason ?? <span className="muted">—</span>}</td>
            <td>
              {describeChange(e.before, e.after).map((line) => (
                <div key={line}>{line}</div>
              ))}
            </td>
            <td>
              <span className={OUTCOME_TAG[e.outcome]}>{e.outcome}</span>
              {e.message && <div className="muted">{e.message}</div>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Target({ type, id }: { type: string; id: string }) {
  if (type === "transaction") {
    return (
      <>
        <span className="muted">transaction </span>
        <Link className="mono" href={`/transactions/${id}`}>
          {id.slice(0, 8)}…
        </Link>
      </>
    );
  }
  return (
    <>
      <span className="muted">{type} </span>
      <span className="mono">{id}</span>
    </>
  );
}
